"""How schemathesis sends a bulk upsert's body (`application/x-ndjson`): one JSON value per
line. The document gives the body's schema as an array of products; an array is sent as its
elements, one per line, and anything else as one JSON line (which ordo must refuse cleanly)."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()
