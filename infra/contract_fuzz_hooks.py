"""schemathesis hooks for infra/contract-fuzz.sh: real values where the
API's answer depends on what the tenant holds rather than on the request's
shape, so a request the document calls valid is one the API can accept.

  cursor   an opaque token the API sealed for one listing; a random one is
           rightly refused (400). A generated request that the document
           calls valid gets a real cursor of that listing instead.
  stage    must be one of the tenant's stages (PUT /settings changes them
           during the run): a valid request gets one, read just before.
  from/to  the timeline's and exports' ranges must not end before they
           start (400), and a bulk export's spans at most 366 days, which no
           schema can say: a valid request gets them in order and in bounds.

Requests generated to be invalid are left as they are. Standard library
and schemathesis only; reads API_URL, DEV_ADMIN_TOKEN and FUZZ_CURSOR_*.
"""

import datetime
import json
import os
import urllib.request

import schemathesis
from schemathesis.core.parameters import ParameterLocation

# Listing (as schemathesis labels the operation) -> a cursor it sealed.
CURSORS = {
    "GET /contacts": os.environ.get("FUZZ_CURSOR_CONTACTS"),
    "GET /contacts/{contact}/timeline": os.environ.get("FUZZ_CURSOR_TIMELINE"),
    "GET /contacts/{contact}/messages": os.environ.get("FUZZ_CURSOR_MESSAGES"),
    "GET /audit": os.environ.get("FUZZ_CURSOR_AUDIT"),
}


def _positive(case, location):
    meta = case.meta
    if meta is None:
        return True
    component = meta.components.get(location)
    return component is None or component.mode.is_positive


def _stages():
    request = urllib.request.Request(os.environ["API_URL"] + "/settings")
    request.add_header("Authorization", "Bearer " + os.environ["DEV_ADMIN_TOKEN"])
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["stages"]


def _instant(text):
    try:
        return datetime.datetime.fromisoformat(text.replace("z", "Z"))
    except (TypeError, ValueError):
        return None


def _range_in_bounds(body, max_days):
    """`from` no later than `to`, and at most `max_days` apart."""
    start, end = body.get("from"), body.get("to")
    if start is None or end is None:
        return
    start, end = _instant(start), _instant(end)
    if start is None or end is None:
        # Python cannot read it (a leap second): a range it can.
        body["from"], body["to"] = "2026-10-01T00:00:00Z", "2026-10-31T00:00:00Z"
        return
    if start > end:
        body["from"], body["to"] = body["to"], body["from"]
        start, end = end, start
    if max_days is not None and end - start > datetime.timedelta(days=max_days):
        body["to"] = body["from"]


@schemathesis.hook
def map_case(context, case):
    label = case.operation.label
    if (
        label == "GET /contacts/{contact}/timeline"
        and isinstance(case.query, dict)
        and case.query.get("from")
        and case.query.get("to")
        and _positive(case, ParameterLocation.QUERY)
    ):
        start, end = _instant(case.query["from"]), _instant(case.query["to"])
        if start is None or end is None:
            # Python cannot read it (a leap second): leave the range open.
            del case.query["to"]
        elif start > end:
            case.query["from"], case.query["to"] = case.query["to"], case.query["from"]
    if label in ("POST /contacts/{contact}/exports", "POST /exports") and _positive(
        case, ParameterLocation.BODY
    ) and isinstance(case.body, dict):
        _range_in_bounds(case.body, 366 if label == "POST /exports" else None)
        if label == "POST /exports" and isinstance(case.body.get("stage"), str):
            stages = _stages()
            case.body["stage"] = stages[len(case.body["stage"]) % len(stages)]
    if label in CURSORS and isinstance(case.query, dict) and case.query.get("cursor"):
        if _positive(case, ParameterLocation.QUERY):
            real = CURSORS[label]
            if real:
                case.query["cursor"] = real
            else:
                del case.query["cursor"]
    if (
        label == "PUT /contacts/{contact}/stage"
        and isinstance(case.body, dict)
        and isinstance(case.body.get("stage"), str)
        and _positive(case, ParameterLocation.BODY)
    ):
        stages = _stages()
        # The generated name picks one, so runs still vary with the seed.
        case.body["stage"] = stages[len(case.body["stage"]) % len(stages)]
    return case
