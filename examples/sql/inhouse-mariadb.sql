-- "Helpdesk", a fictional in-house ticketing app on MariaDB/MySQL: agents,
-- roles, permissions and queues, with role and queue memberships.
-- Used by inhouse-mariadb.yml.
SET NAMES utf8mb4;

CREATE TABLE agents (
  id         INT AUTO_INCREMENT PRIMARY KEY,
  login      VARCHAR(64)  NOT NULL UNIQUE,
  email      VARCHAR(255) NOT NULL,
  name       VARCHAR(128) NULL,
  state      ENUM('active', 'locked', 'deleted') NOT NULL DEFAULT 'active',
  is_bot     TINYINT(1)   NOT NULL DEFAULT 0,
  mfa        TINYINT(1)   NOT NULL DEFAULT 0,
  last_seen  DATETIME     NULL,
  secret     VARCHAR(255) NULL
) DEFAULT CHARSET = utf8mb4;

CREATE TABLE roles (
  id    INT PRIMARY KEY,
  code  VARCHAR(32) NOT NULL UNIQUE,
  title VARCHAR(128) NOT NULL
) DEFAULT CHARSET = utf8mb4;

CREATE TABLE agent_roles (
  agent_id INT NOT NULL,
  role_id  INT NOT NULL,
  PRIMARY KEY (agent_id, role_id)
);

CREATE TABLE permissions (
  id   INT PRIMARY KEY,
  code VARCHAR(64) NOT NULL UNIQUE
) DEFAULT CHARSET = utf8mb4;

CREATE TABLE role_permissions (
  role_id       INT NOT NULL,
  permission_id INT NOT NULL,
  PRIMARY KEY (role_id, permission_id)
);

CREATE TABLE queues (
  id   INT PRIMARY KEY,
  name VARCHAR(64) NOT NULL UNIQUE
) DEFAULT CHARSET = utf8mb4;

CREATE TABLE queue_members (
  queue_id   INT NOT NULL,
  agent_id   INT NOT NULL,
  supervisor TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (queue_id, agent_id)
);

INSERT INTO agents (id, login, email, name, state, is_bot, mfa, last_seen) VALUES
  (1, 'amira',   'amira@help.test',   'Amira Haddad',  'active',  0, 1, '2024-03-01 12:00:00'),
  (2, 'bo',      'bo@help.test',      'Bo Lindqvist',  'active',  0, 0, NULL),
  (3, 'carmen',  'carmen@help.test',  NULL,            'locked',  0, 1, '2023-01-15 09:45:10'),
  (4, 'dev-bot', 'bot@help.test',     'Triage bot',    'active',  1, 0, '2024-06-01 00:00:00'),
  (5, 'eitan',   'eitan@help.test',   'Eitan Levi',    'active',  0, 0, NULL),
  (6, 'fai',     'fai@help.test',     'Fai Taufa',     'deleted', 0, 0, NULL);

INSERT INTO roles (id, code, title) VALUES (1, 'lead', 'Team lead'), (2, 'agent', 'Agent'), (3, 'observer', 'Observer');
INSERT INTO agent_roles (agent_id, role_id) VALUES (1, 1), (1, 2), (2, 2), (3, 3), (4, 2), (5, 2);

INSERT INTO permissions (id, code) VALUES (1, 'ticket.read'), (2, 'ticket.reply'), (3, 'ticket.assign'), (4, 'report.view');
INSERT INTO role_permissions (role_id, permission_id) VALUES (1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2), (3, 1), (3, 4);

INSERT INTO queues (id, name) VALUES (1, 'billing'), (2, 'hardware');
INSERT INTO queue_members (queue_id, agent_id, supervisor) VALUES (1, 1, 1), (1, 2, 0), (1, 5, 0), (2, 4, 0), (2, 2, 1);
