"""Chat with and inspect a model served by an inference server (OpenAI-compatible API).

Qt-free, like the rest of the core. :func:`connect` probes a server and returns the engine
for one of its models.
"""

from __future__ import annotations

from tokenwise.core.remote.client import RemoteClient, RemoteError, UnknownModelError
from tokenwise.core.remote.engine import RemoteEngine
from tokenwise.core.remote.probe import ServerProbe, probe


def connect(base_url: str, model: str = "", *, api_key: str | None = None, ca_cert: str = "",
            server_name: str = "", post_sampling: bool = False) -> RemoteEngine:
    """The engine for ``model`` on the server at ``base_url`` (its only model if "")."""
    client = RemoteClient(base_url, api_key=api_key, ca_cert=ca_cert)
    try:
        found = probe(client)
        if not model:
            if len(found.models) != 1:
                names = ", ".join(m.id for m in found.models) or "none"
                raise RemoteError(f"Name the model: the server serves {names}.")
            model = found.models[0].id
        elif found.models and found.model(model) is None:
            names = ", ".join(m.id for m in found.models)
            raise UnknownModelError(f"The server does not serve the model {model!r} (it "
                                    f"serves "
                                    f"{names}).")
        return RemoteEngine(client, found, model, server_name=server_name,
                            post_sampling=post_sampling)
    except BaseException:
        client.close()
        raise


__all__ = ["RemoteClient", "RemoteEngine", "RemoteError", "ServerProbe", "connect", "probe"]
