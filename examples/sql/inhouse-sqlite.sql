-- "Ledger", a fictional in-house app kept in SQLite: users, groups, roles and
-- permissions, with memberships at every level. Used by inhouse-sqlite.yml.
PRAGMA foreign_keys = ON;

CREATE TABLE users (
  id          INTEGER PRIMARY KEY,
  username    TEXT NOT NULL UNIQUE,
  email       TEXT NOT NULL,
  full_name   TEXT,
  status      TEXT NOT NULL DEFAULT 'active',
  kind        TEXT NOT NULL DEFAULT 'human',
  employee_no TEXT,
  last_login  TEXT,
  password    TEXT
);

CREATE TABLE groups_ (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

CREATE TABLE group_members (
  group_id INTEGER NOT NULL REFERENCES groups_(id),
  user_id  INTEGER NOT NULL REFERENCES users(id),
  is_owner INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (group_id, user_id)
);

CREATE TABLE roles (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL
);

CREATE TABLE user_roles (
  user_id INTEGER NOT NULL REFERENCES users(id),
  role_id INTEGER NOT NULL REFERENCES roles(id),
  PRIMARY KEY (user_id, role_id)
);

CREATE TABLE group_roles (
  group_id INTEGER NOT NULL REFERENCES groups_(id),
  role_id  INTEGER NOT NULL REFERENCES roles(id),
  PRIMARY KEY (group_id, role_id)
);

CREATE TABLE permissions (
  id          INTEGER PRIMARY KEY,
  code        TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL
);

CREATE TABLE role_permissions (
  role_id       INTEGER NOT NULL REFERENCES roles(id),
  permission_id INTEGER NOT NULL REFERENCES permissions(id),
  PRIMARY KEY (role_id, permission_id)
);

INSERT INTO users (id, username, email, full_name, status, kind, employee_no, last_login) VALUES
  (1, 'ada',      'ada@ledger.test',      'Ada Lovelace',    'active',    'human',   'L-001', '2024-05-01 10:00:00'),
  (2, 'brian',    'brian@ledger.test',    'Brian Kernighan', 'active',    'human',   'L-002', NULL),
  (3, 'chen',     'chen@ledger.test',     'Chen Wei',        'suspended', 'human',   'L-003', '2023-12-24 08:30:00'),
  (4, 'dana',     'dana@ledger.test',     NULL,              'active',    'human',   NULL,    NULL),
  (5, 'etl-bot',  'etl@ledger.test',      'ETL robot',       'active',    'service', NULL,    '2024-06-30 23:59:59'),
  (6, 'o''neil',  'oneil@ledger.test',    'Pat O''Neil',     'active',    'human',   'L-006', NULL),
  (7, 'zoë',      'zoe@ledger.test',      'Zoë Ødegaard',    'deleted',   'human',   'L-007', NULL);

INSERT INTO groups_ (id, name) VALUES (1, 'finance'), (2, 'auditors'), (3, 'platform');

INSERT INTO group_members (group_id, user_id, is_owner) VALUES
  (1, 1, 1), (1, 2, 0), (1, 6, 0),
  (2, 3, 1), (2, 4, 0),
  (3, 5, 0), (3, 1, 0);

INSERT INTO roles (id, name, description) VALUES
  (1, 'admin',    'Everything'),
  (2, 'approver', 'Approves payments'),
  (3, 'viewer',   'Reads the ledger');

INSERT INTO user_roles (user_id, role_id) VALUES (1, 1), (2, 2), (4, 3), (6, 3);
INSERT INTO group_roles (group_id, role_id) VALUES (1, 2), (2, 3);

INSERT INTO permissions (id, code, description) VALUES
  (1, 'ledger.read',   'Read entries'),
  (2, 'ledger.write',  'Write entries'),
  (3, 'payment.approve', 'Approve payments'),
  (4, 'users.manage',  'Manage users');

INSERT INTO role_permissions (role_id, permission_id) VALUES
  (1, 1), (1, 2), (1, 3), (1, 4),
  (2, 1), (2, 3),
  (3, 1);
