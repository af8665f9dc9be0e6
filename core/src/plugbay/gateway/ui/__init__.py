"""The gateway's web dashboard at ``/ui``: server-rendered pages (overview, spend over
time, keys, routes and providers, recent calls) with SVG charts drawn on the server, no
JavaScript framework and nothing fetched from elsewhere (docs/gateway.md, "Dashboard").

``Dashboard.handle`` answers every ``/ui`` request; the gateway builds one when virtual
keys are on (the dashboard reads the ledger database they live in).
"""
