"""Traits of a mapped resource: user, group, role, app or secret, built from one row.

Values follow baton-sql's mapping (``active``/``enabled`` → enabled,
``disabled``/``inactive``/``suspended``/``locked`` → disabled, ``deleted``;
account types ``user``/``human``, ``service``, ``system``) with two
deliberate differences: a NULL mapped into a profile leaves the key out
instead of storing the string ``NULL_VALUE``, and timestamps are ISO 8601
(RFC 3339) instead of Go's ``2019-04-01 09:00:00 +0000 UTC``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2
from google.protobuf.message import Message

from pybaton.connectors.sql import config as cfg
from pybaton.connectors.sql.expr import Expression, to_text
from pybaton.connectors.sql.scope import Scope
from pybaton.pb.c1.connector.v2 import annotation_trait_pb2 as tr

log = logging.getLogger("pybaton.connectors.sql")

ROW_NAMES = ("cols",)

Status = tr.UserTrait.Status
STATUS_VALUES = {"active": Status.STATUS_ENABLED, "enabled": Status.STATUS_ENABLED,
                 "disabled": Status.STATUS_DISABLED, "inactive": Status.STATUS_DISABLED,
                 "suspended": Status.STATUS_DISABLED, "locked": Status.STATUS_DISABLED,
                 "deleted": Status.STATUS_DELETED}
ACCOUNT_TYPES = {"user": tr.UserTrait.ACCOUNT_TYPE_HUMAN, "human": tr.UserTrait.ACCOUNT_TYPE_HUMAN,
                 "service": tr.UserTrait.ACCOUNT_TYPE_SERVICE, "system": tr.UserTrait.ACCOUNT_TYPE_SYSTEM}
CREDENTIAL_TYPES = {"static_secret": tr.SecretTrait.CREDENTIAL_TYPE_STATIC_SECRET,
                    "asymmetric_key": tr.SecretTrait.CREDENTIAL_TYPE_ASYMMETRIC_KEY,
                    "certificate": tr.SecretTrait.CREDENTIAL_TYPE_CERTIFICATE}

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d", "%d-%b-%Y %H:%M:%S",
                 "%d-%b-%y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%b %d, %Y %H:%M:%S")

_warned: set[tuple[str, str]] = set()


def warn_once(site: str, message: str) -> None:
    """Log a data problem once per field and value, not once per row."""
    if (site, message) not in _warned:
        _warned.add((site, message))
        log.warning("%s: %s", site, message)


def parse_time(value: Any) -> dt.datetime | None:
    """A timestamp from a database value or a string in a common database format; None if not one."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    text = to_text(value).strip()
    if not text:
        return None
    if text.isdigit():
        seconds = int(text) / (1000 if len(text) > 11 else 1)
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    try:
        return parse_time(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


def _timestamp(when: dt.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(when.astimezone(dt.UTC).replace(tzinfo=None))
    return out


@dataclass(frozen=True)
class Profile:
    """``profile:`` — key → expression; values are strings, as baton-sql stores them; NULL leaves the key out."""

    fields: tuple[tuple[str, Expression], ...]

    @classmethod
    def compile(cls, scope: Scope, raw: Mapping[str, str]) -> Profile:
        fields = []
        for key, source in raw.items():
            found = scope.expr(source, key, names=ROW_NAMES)
            if found is not None:
                fields.append((key, found))
        return cls(tuple(fields))

    def values(self, env: Mapping[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, expression in self.fields:
            value = expression.value(env)
            if value is not None:
                out[key] = to_text(value)
        return out


class TraitBuilder:
    """Builds one trait message from a row; subclasses per trait kind."""

    trait: int = 0

    def build(self, env: Mapping[str, Any]) -> Message:
        raise NotImplementedError


class ProfileTraitBuilder(TraitBuilder):
    def __init__(self, scope: Scope, mapping: cfg.ProfileTraitMap, message: type[Message], trait: int) -> None:
        self.profile = Profile.compile(scope.at("profile"), mapping.profile)
        self.message = message
        self.trait = trait

    def build(self, env: Mapping[str, Any]) -> Message:
        out = self.message()
        values = self.profile.values(env)
        if values:
            out.profile.update(values)  # type: ignore[attr-defined]
        return out


class AppTraitBuilder(ProfileTraitBuilder):
    def __init__(self, scope: Scope, mapping: cfg.AppTraitMap) -> None:
        super().__init__(scope, mapping, tr.AppTrait, tr_trait("TRAIT_APP"))
        self.help_url = scope.expr(mapping.help_url, "help_url", names=ROW_NAMES)

    def build(self, env: Mapping[str, Any]) -> Message:
        out = super().build(env)
        if self.help_url is not None:
            out.help_url = self.help_url.text(env)  # type: ignore[attr-defined]
        return out


def tr_trait(name: str) -> int:
    from pybaton.pb.c1.connector.v2 import resource_pb2

    return int(resource_pb2.ResourceType.Trait.Value(name))


def _texts(expressions: tuple[Expression, ...], env: Mapping[str, Any]) -> list[str]:
    return [text for text in (e.text(env) for e in expressions) if text]


def _optional(scope: Scope, source: str, name: str) -> Expression | None:
    return scope.expr(source, name, names=ROW_NAMES)


class UserTraitBuilder(TraitBuilder):
    def __init__(self, scope: Scope, m: cfg.UserTraitMap) -> None:
        self.trait = tr_trait("TRAIT_USER")
        self.scope = scope
        self.emails = tuple(e for i, src in enumerate(m.emails) if (e := scope.expr(src, "emails", i, names=ROW_NAMES)))
        self.aliases = tuple(e for i, src in enumerate(m.login_aliases)
                             if (e := scope.expr(src, "login_aliases", i, names=ROW_NAMES)))
        self.employee_ids = tuple(e for i, src in enumerate(m.employee_ids)
                                  if (e := scope.expr(src, "employee_ids", i, names=ROW_NAMES)))
        self.profile = Profile.compile(scope.at("profile"), m.profile)
        self.status = _optional(scope, m.status, "status")
        self.status_details = _optional(scope, m.status_details, "status_details")
        self.account_type = _optional(scope, m.account_type, "account_type")
        self.login = _optional(scope, m.login, "login")
        self.last_login = _optional(scope, m.last_login, "last_login")
        self.manager = tuple((key, e) for key, src in (("manager_id", m.manager_id), ("manager_email", m.manager_email))
                             if (e := _optional(scope, src, key)))
        self.mfa = _optional(scope, m.mfa_enabled, "mfa_enabled")
        self.sso = _optional(scope, m.sso_enabled, "sso_enabled")

    def build(self, env: Mapping[str, Any]) -> Message:
        out = tr.UserTrait()
        for index, address in enumerate(_texts(self.emails, env)):
            out.emails.add(address=address, is_primary=index == 0)
        out.status.status = self._status(env)
        if self.status_details is not None:
            out.status.details = self.status_details.text(env)
        out.account_type = self._account_type(env)
        if self.login is not None:
            out.login = self.login.text(env)
            out.login_aliases.extend(_texts(self.aliases, env))
        out.employee_ids.extend(_texts(self.employee_ids, env))
        self._times(out, env)
        self._flags(out, env)
        profile = self.profile.values(env)
        for key, expression in self.manager:
            value = expression.value(env)
            if value is not None and key not in profile:
                profile[key] = to_text(value)
        if profile:
            out.profile.update(profile)  # filled in place: no Struct built and copied per row
        return out

    def _status(self, env: Mapping[str, Any]) -> tr.UserTrait.Status.Status:
        if self.status is None:
            return Status.STATUS_ENABLED
        value = self.status.text(env)
        found = STATUS_VALUES.get(value.lower())
        if found is None:
            warn_once(self.scope.site("status"), f"unexpected status {value!r}; stored as unspecified "
                      f"(known: {', '.join(STATUS_VALUES)})")
            return Status.STATUS_UNSPECIFIED
        return found

    def _account_type(self, env: Mapping[str, Any]) -> tr.UserTrait.AccountType:
        if self.account_type is None:
            return tr.UserTrait.ACCOUNT_TYPE_HUMAN
        value = self.account_type.text(env)
        found = ACCOUNT_TYPES.get(value.lower())
        if found is None:
            warn_once(self.scope.site("account_type"), f"unexpected account type {value!r}; stored as human "
                      f"(known: {', '.join(ACCOUNT_TYPES)})")
            return tr.UserTrait.ACCOUNT_TYPE_HUMAN
        return found

    def _times(self, out: tr.UserTrait, env: Mapping[str, Any]) -> None:
        if self.last_login is None:
            return
        raw = self.last_login.value(env)
        when = parse_time(raw)
        if when is not None:
            out.last_login.CopyFrom(_timestamp(when))
        elif to_text(raw):
            warn_once(self.scope.site("last_login"), f"not a timestamp: {to_text(raw)!r}; left out")

    def _flags(self, out: tr.UserTrait, env: Mapping[str, Any]) -> None:
        if self.mfa is not None:
            out.mfa_status.mfa_enabled = self.mfa.boolean(env)
        if self.sso is not None:
            out.sso_status.sso_enabled = self.sso.boolean(env)


class SecretTraitBuilder(TraitBuilder):
    def __init__(self, scope: Scope, m: cfg.SecretTraitMap) -> None:
        self.trait = tr_trait("TRAIT_SECRET")
        self.scope = scope
        self.credential_type = _optional(scope, m.credential_type, "credential_type")
        self.detail = _optional(scope, m.credential_detail, "credential_detail")
        self.times = tuple((key, e) for key, src in (("expires_at", m.expires_at), ("last_used_at", m.last_used_at))
                           if (e := _optional(scope, src, key)))

    def build(self, env: Mapping[str, Any]) -> Message:
        out = tr.SecretTrait()
        if self.credential_type is not None:
            value = self.credential_type.text(env)
            kind = CREDENTIAL_TYPES.get(value.lower())
            if kind is None and value:
                warn_once(self.scope.site("credential_type"), f"unexpected credential type {value!r}")
            out.credential_type = kind or tr.SecretTrait.CREDENTIAL_TYPE_UNSPECIFIED
        if self.detail is not None:
            out.credential_detail = self.detail.text(env)
        for key, expression in self.times:
            when = parse_time(expression.value(env))
            if when is not None:
                getattr(out, key).CopyFrom(_timestamp(when))
        return out


def trait_builder(scope: Scope, traits: cfg.Traits | None) -> TraitBuilder | None:
    """The builder of the first configured trait, in baton-sql's order: user, group, role, app, secret."""
    if traits is None:
        return None
    if traits.user is not None:
        return UserTraitBuilder(scope.at("user"), traits.user)
    if traits.group is not None:
        return ProfileTraitBuilder(scope.at("group"), traits.group, tr.GroupTrait, tr_trait("TRAIT_GROUP"))
    if traits.role is not None:
        return ProfileTraitBuilder(scope.at("role"), traits.role, tr.RoleTrait, tr_trait("TRAIT_ROLE"))
    if traits.app is not None:
        return AppTraitBuilder(scope.at("app"), traits.app)
    if traits.secret is not None:
        return SecretTraitBuilder(scope.at("secret"), traits.secret)
    return None


_PROFILE_TRAITS: dict[str, type[Message]] = {
    "type.googleapis.com/" + cls.DESCRIPTOR.full_name: cls
    for cls in (tr.GroupTrait, tr.UserTrait, tr.RoleTrait, tr.AppTrait)
}


def _plain(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {k: _plain(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_plain(v) for v in value.list_value.values]
    return None if kind in (None, "null_value") else getattr(value, kind)


def profile_of(resource_annotations: Any) -> dict[str, Any]:
    """The profile of a resource's trait, as a plain dict (for ``resource.profile`` in expressions)."""
    for item in resource_annotations:
        message_class = _PROFILE_TRAITS.get(item.type_url)
        if message_class is not None:
            msg = message_class()
            msg.ParseFromString(item.value)
            profile: struct_pb2.Struct = msg.profile  # type: ignore[attr-defined]
            return {k: _plain(v) for k, v in profile.fields.items()}
    return {}
