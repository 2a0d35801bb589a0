"""Connection without a server: what it shows of itself."""

from lit.sdk.services.stream import Connection

TOKEN = "s3cret-bearer-token"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


def test_repr_shows_neither_the_token_nor_the_private_key() -> None:
    connection = Connection(address="feeds.internal:50051", token=TOKEN, cert=b"client cert", key=KEY)
    shown = repr(connection)
    assert TOKEN not in shown
    assert "PRIVATE KEY" not in shown and "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in shown
    assert "feeds.internal:50051" in shown  # the rest is still there to debug with
    assert repr(connection.resolved()).count(TOKEN) == 0
