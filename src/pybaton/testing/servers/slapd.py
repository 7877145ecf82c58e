"""OpenLDAP ``slapd`` with an mdb database, optionally LDAPS and StartTLS with a self-signed certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pybaton.testing.servers.managed import (
    _CHECK_TIMEOUT,
    ManagedServer,
    ServerError,
    _clean_env,
    _require_binary,
    _run,
    ensure_debian_packages,
    free_port,
)


class SlapdServer(ManagedServer):
    """OpenLDAP ``slapd`` with an mdb database, on ``ldap://127.0.0.1:port/``.

    The config (``slapd.conf``: core, cosine, nis and inetorgperson schemas;
    no overlay) is written into the temp dir and slapd runs in the foreground
    (``-d none``: unlike ``-d 0`` it still prints fatal errors such as a
    port in use). The entry of :attr:`base_dn` is created at start unless
    ``create_base=False``. With ``tls=True`` a self-signed certificate for
    127.0.0.1 (openssl CLI) is made, StartTLS works on :attr:`url` and
    :attr:`ldaps_url` listens too; clients trust :attr:`ca_cert`.
    """

    name = "slapd"

    def __init__(
        self,
        *,
        base_dn: str = "dc=example,dc=org",
        bind_dn: str | None = None,
        bind_password: str = "admin",
        create_base: bool = True,
        tls: bool = False,
        loglevel: str = "stats",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.base_dn = base_dn
        self.bind_dn = bind_dn if bind_dn is not None else f"cn=admin,{base_dn}"
        self.bind_password = bind_password
        self.create_base = create_base
        self.tls = tls
        self.loglevel = loglevel
        self._tls_port: int | None = None
        for value in (base_dn, self.bind_dn, bind_password):
            if any(c in value for c in '"\n\\'):
                raise ValueError(f"unsupported character in slapd setting {value!r}")

    @property
    def url(self) -> str:
        return f"ldap://{self.host}:{self.port}/"

    @property
    def tls_port(self) -> int:
        if self._tls_port is None:
            raise ServerError("slapd server has no LDAPS port (tls=False or not started)")
        return self._tls_port

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.host}:{self.tls_port}/"

    @property
    def ca_cert(self) -> Path:
        """The self-signed certificate (PEM) to trust, with ``tls=True``."""
        return self.directory / "cert.pem"

    @property
    def config_path(self) -> Path:
        return self.directory / "slapd.conf"

    def client_env(self) -> dict[str, str]:
        """Environment for the ldap-utils clients (trusting :attr:`ca_cert` with TLS)."""
        env = _clean_env(("LDAP",))
        if self.tls:
            env.update(LDAPTLS_CACERT=str(self.ca_cert), LDAPTLS_REQCERT="demand")
        return env

    def ldapadd(self, ldif_text: str) -> str:
        """Add the entries of ``ldif_text`` with ``ldapadd``, bound as :attr:`bind_dn`."""
        return self._tool("ldapadd", [], ldif_text)

    def ldapmodify(self, ldif_text: str) -> str:
        """Apply an LDIF change record with ``ldapmodify``, bound as :attr:`bind_dn`."""
        return self._tool("ldapmodify", [], ldif_text)

    def ldapsearch(
        self, filter: str = "(objectClass=*)", *attrs: str, base: str | None = None, scope: str = "sub"
    ) -> str:
        """Search with ``ldapsearch`` bound as :attr:`bind_dn`; return unwrapped LDIF (``-LLL``)."""
        args = ["-LLL", "-o", "ldif-wrap=no", "-b", base or self.base_dn, "-s", scope, filter, *attrs]
        return self._tool("ldapsearch", args, None)

    def _tool(self, tool: str, args: list[str], stdin: str | None) -> str:
        cmd = [
            _require_binary(tool), "-x", "-H", self.url, "-D", self.bind_dn, "-w", self.bind_password,
            "-o", "nettimeout=10", *args,
        ]
        return _run(cmd, input=stdin, env=self.client_env(), timeout=60).stdout

    # ---- hooks

    def _ensure_installed(self) -> None:
        ensure_debian_packages("slapd", ["slapd"])
        ensure_debian_packages("ldapadd", ["ldap-utils"])
        if self.tls:
            ensure_debian_packages("openssl", ["openssl"])

    def _prepare(self) -> None:
        d = self.directory
        (d / "db").mkdir()
        tls_conf = ""
        if self.tls:
            self._tls_port = free_port(self.host)
            _run(
                [
                    _require_binary("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7",
                    "-keyout", str(d / "key.pem"), "-out", str(self.ca_cert), "-subj", f"/CN={self.host}",
                    "-addext", f"subjectAltName=IP:{self.host},DNS:localhost",
                ],
                cwd=d,
                timeout=60,
            )
            tls_conf = (
                f'TLSCACertificateFile "{self.ca_cert}"\n'
                f'TLSCertificateFile "{self.ca_cert}"\n'
                f'TLSCertificateKeyFile "{d / "key.pem"}"\n'
            )
        schema = Path("/etc/ldap/schema")
        self.config_path.write_text(
            "# pybaton test server (written by pybaton.testing.servers)\n"
            + "".join(f"include {schema / s}.schema\n" for s in ("core", "cosine", "nis", "inetorgperson"))
            + f'pidfile "{d / "slapd.pid"}"\n'
            f'argsfile "{d / "slapd.args"}"\n'
            f"loglevel {self.loglevel}\n"
            "modulepath /usr/lib/ldap\n"
            "moduleload back_mdb\n"
            f"{tls_conf}"
            "database mdb\n"
            "maxsize 104857600\n"
            f'suffix "{self.base_dn}"\n'
            f'rootdn "{self.bind_dn}"\n'
            f'rootpw "{self.bind_password}"\n'
            f'directory "{d / "db"}"\n'
            "index objectClass eq\n"
            "index uid,cn,memberUid,gidNumber eq\n"
            "index member,uniqueMember eq\n"
            "access to attrs=userPassword\n  by self write\n  by anonymous auth\n  by * none\n"
            "access to *\n  by * read\n"
        )
        _run([_require_binary("slaptest"), "-Q", "-u", "-f", str(self.config_path)], cwd=d, timeout=60)

    def _launch(self) -> None:
        urls = self.url + (f" {self.ldaps_url}" if self.tls else "")
        self._spawn([_require_binary("slapd"), "-f", str(self.config_path), "-h", urls, "-d", "none"])

    def _is_ready(self) -> bool:
        cmd = [
            _require_binary("ldapsearch"), "-x", "-H", self.url, "-b", "", "-s", "base", "-LLL",
            "-o", "nettimeout=2", "namingContexts",
        ]
        return self.base_dn.lower() in _run(cmd, env=self.client_env(), timeout=_CHECK_TIMEOUT).stdout.lower()

    def _after_ready(self) -> None:
        if not self.create_base:
            return
        attr, _, value = self.base_dn.split(",", 1)[0].partition("=")
        object_classes = {
            "dc": ["dcObject", "organization"],
            "o": ["organization"],
            "ou": ["organizationalUnit"],
        }.get(attr.strip().lower())
        if object_classes is None:
            return
        lines = [f"dn: {self.base_dn}", "objectClass: top", *(f"objectClass: {oc}" for oc in object_classes)]
        lines.append(f"{attr.strip()}: {value.strip()}")
        if attr.strip().lower() == "dc":
            lines.append(f"o: {value.strip()}")
        self.ldapadd("\n".join(lines) + "\n")

    def _cleanup(self) -> None:
        super()._cleanup()
        self._tls_port = None


