"""Events for integrations (SPEC, Events): the outbox, webhooks and their delivery.

A write that changes what integrations care about writes its event in its own transaction
(``outbox``), with one pending delivery per webhook taking that event type; a worker sends
them (``worker``, ``delivery``), signed, retried with backoff until a 2xx answer or the last
attempt. Webhooks are managed by admins (``webhooks``); their URLs pass ``url_policy``.
"""
