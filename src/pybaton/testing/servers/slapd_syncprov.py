"""OpenLDAP with the ``syncprov`` overlay: a directory that offers RFC 4533 content synchronisation.

The same server as :class:`~pybaton.testing.servers.SlapdServer` (mdb database,
the same schemas and access rules) with ``syncprov`` loaded on the database,
a session log (so a refresh can name deleted entries) and the ``entryCSN`` /
``entryUUID`` indexes the overlay wants. Its root DSE lists the Sync Request
control (``1.3.6.1.4.1.4203.1.9.1.1``) among ``supportedControl``.
"""

from __future__ import annotations

from pybaton.testing.servers.slapd import SlapdServer

SYNC_REQUEST_OID = "1.3.6.1.4.1.4203.1.9.1.1"


class SyncprovSlapdServer(SlapdServer):
    """``slapd`` with ``overlay syncprov`` (checkpoint every 100 writes or 5 minutes, session log of 1000)."""

    name = "slapd-syncprov"

    def _prepare(self) -> None:
        super()._prepare()
        text = self.config_path.read_text()
        text = text.replace("moduleload back_mdb\n", "moduleload back_mdb\nmoduleload syncprov\n", 1)
        text += ("index entryCSN,entryUUID eq\n"
                 "overlay syncprov\n"
                 "syncprov-checkpoint 100 5\n"
                 "syncprov-sessionlog 1000\n")
        self.config_path.write_text(text)


__all__ = ["SYNC_REQUEST_OID", "SyncprovSlapdServer"]
