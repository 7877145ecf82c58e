"""Optional dependencies: which pybaton extra brings which module, and the one error when it is missing.

Drivers and engines that only some users need (PostgreSQL, LDAP, MySQL, CEL,
xlsx, age encryption) are extras in ``pyproject.toml``. Code that needs one
imports it inside :func:`optional_import`, and the two error boundaries (the
``pybaton`` command and a connector command) pass any other
:class:`ModuleNotFoundError` through :func:`missing_extra`, so the operator
always reads which extra to install instead of a traceback.
``tests/test_packaging.py`` checks this table against ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pybaton.errors import MissingExtraError

# Top-level module → (extra, the distribution the extra installs).
OPTIONAL_MODULES: dict[str, tuple[str, str]] = {
    "psycopg": ("postgres", "psycopg"),
    "pymysql": ("mysql", "pymysql"),
    "ldap3": ("ldap", "ldap3"),
    "cel": ("cel", "common-expression-language"),
    "openpyxl": ("xlsx", "openpyxl"),
    "pyrage": ("crypto", "pyrage"),
    "PyInstaller": ("build", "pyinstaller"),
    "starlette": ("console", "starlette"),
    "jinja2": ("console", "jinja2"),
    "uvicorn": ("console", "uvicorn"),
    "argon2": ("console", "argon2-cffi"),
    "celery": ("fleet", "celery"),
    "redis": ("fleet", "redis"),
    "prometheus_client": ("fleet", "prometheus-client"),
    "boto3": ("s3", "boto3"),
}


def _missing_module(exc: BaseException | None) -> str | None:
    """The optional module whose absence caused ``exc`` (following the exception's causes)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            top = exc.name.partition(".")[0]
            if top in OPTIONAL_MODULES:
                return top
        exc = exc.__cause__ or exc.__context__
    return None


def missing_extra(exc: BaseException, purpose: str = "this command") -> MissingExtraError | None:
    """``exc`` as a :class:`MissingExtraError` when an optional module is missing, else ``None``."""
    module = _missing_module(exc)
    if module is None:
        return None
    return MissingExtraError(purpose, module, OPTIONAL_MODULES[module][0])


@contextmanager
def optional_import(purpose: str) -> Iterator[None]:
    """Imports in this block that fail for want of an extra raise :class:`MissingExtraError` naming it."""
    try:
        yield
    except ImportError as exc:
        error = missing_extra(exc, purpose)
        if error is None:
            raise
        raise error from None
