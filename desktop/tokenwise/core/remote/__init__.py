"""Chat with and inspect a model served by an inference server (OpenAI-compatible API).

Qt-free, like the rest of the core. :func:`connect` probes a server and returns the engine
for one of its models.
"""

from __future__ import annotations

from tokenwise.core.i18n import _
from tokenwise.core.remote.client import RemoteClient, RemoteError, UnknownModelError
from tokenwise.core.remote.engine import RemoteEngine
from tokenwise.core.remote.probe import ServerProbe, probe


def connect(base_url: str, model: str = "", *, api_key: str | None = None, ca_cert: str = "",
            server_name: str = "", post_sampling: bool = False, path: str = "") -> RemoteEngine:
    """The engine for ``model`` on the server at ``base_url`` (its only model if "")."""
    client = RemoteClient(base_url, api_key=api_key, ca_cert=ca_cert)
    try:
        found = probe(client)
        if not model:
            if len(found.models) != 1:
                names = ", ".join(m.id for m in found.models) or _("none")
                raise RemoteError(_("Name the model: the server serves {names}.").format(
                    names=names))
            model = found.models[0].id
        elif found.models and found.model(model) is None:
            names = ", ".join(m.id for m in found.models)
            raise UnknownModelError(_("The server does not serve the model {model} (it serves "
                                      "{names}).").format(model=repr(model), names=names))
        return RemoteEngine(client, found, model, server_name=server_name,
                            post_sampling=post_sampling, path=path)
    except BaseException:
        client.close()
        raise


def open_saved(path: str) -> RemoteEngine:
    """The engine for a saved server's model, from its path "remote:<server id>/<model>"."""
    from tokenwise.core.remote import servers

    parts = servers.split_model_path(path)
    record = servers.find(parts[0]) if parts is not None else None
    if parts is None or record is None:
        raise RemoteError(_("That server is no longer in the list: add it again in Settings."))
    return connect(record.base_url, parts[1], api_key=record.api_key(), ca_cert=record.ca_cert,
                   server_name=record.name, post_sampling=record.post_sampling, path=path)


def list_saved_models(timeout: float = 3.0) -> list[tuple[str, str, str]]:
    """(model id, server name, path) of every saved server's models; a server that does not
    answer within ``timeout`` is left out."""
    from tokenwise.core.remote import servers

    out: list[tuple[str, str, str]] = []
    for record in servers.load_servers():
        try:
            with record.client(timeout=timeout) as client:
                found = probe(client)
        except RemoteError:
            continue
        out.extend((servers.display_name(m.id), record.name, record.model_path(m.id))
                   for m in found.models)
    return out


__all__ = ["RemoteClient", "RemoteEngine", "RemoteError", "ServerProbe", "connect", "probe"]
