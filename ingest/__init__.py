"""The batch ingestion fast path, whole: `POST /api/v1/usage-events` and `/api/v1/outcome-events`.

A 1,000-event batch goes through four steps:

1. **No DRF** (`http.py`). The API key comes from a per-process cache, and the batch POST is answered
   without DRF's request wrapping and renderers, with the same answers as every other API view.
2. **One pydantic pass over the raw bytes** (`validate.py`). The plain tier accepts the spelling
   nearly every client sends and passes its values to COPY as written; any other batch is validated
   again, event by event, by the contract model, which decides. The plain tier may only accept less.
   No exact number is ever read through a float (`numbers.py`).
3. **Names from cache** (`core.cache.HitCache`). Customers, meters and outcome types come from a
   per-process cache of hits; an unknown name or a future event sends the batch to the checked path,
   which names each rejected event and field.
4. **One COPY** (`store.py`). A unique index on (organization, idempotency key) fails the COPY on any
   known key; then only the unknown keys are inserted, in one order, so replays never double-count.

metering and outcomes each declare their `pipeline.EventKind` (table, models, names, how a batch
becomes COPY lines) and `pipeline.ingest` does the rest; they know nothing of each other, and this
package knows nothing of prices.
"""
