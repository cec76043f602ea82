"""Real values for the contract fuzz (infra/contract-fuzz.sh), read from and
created through the public API of the running stack. Prints KEY=VALUE lines:

  FUZZ_CONTACT          a contact of the demo story, once the demo deliveries
                        are normalized (the queue poller works in the background)
  FUZZ_CONNECTION       a new connection of the demo tenant, for the fuzz to delete
  FUZZ_EXPORT           an export job of the demo contact
  FUZZ_CURSOR_CONTACTS, FUZZ_CURSOR_TIMELINE, FUZZ_CURSOR_MESSAGES,
  FUZZ_CURSOR_AUDIT     a next_cursor of each listing (contract_fuzz_hooks.py)

Reads API_URL and DEV_ADMIN_TOKEN from the environment. Standard library only.
"""

import json
import os
import sys
import time
import urllib.request

API = os.environ["API_URL"]
TOKEN = os.environ["DEV_ADMIN_TOKEN"]


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def demo_contact():
    # The demo story's customer, with her messages, bookings and payments
    # on one timeline. Waits for the poller to normalize the deliveries.
    deadline = time.monotonic() + 120
    while True:
        found = call("GET", "/contacts?q=maya")["items"]
        if found:
            contact = found[0]["contact_id"]
            timeline = call("GET", "/contacts/%s/timeline?limit=100" % contact)
            if len(timeline["items"]) >= 5:
                return contact
        if time.monotonic() > deadline:
            sys.exit("contract_fuzz_seed: the demo contact did not appear in 120 s")
        time.sleep(0.5)


def cursor(path):
    found = call("GET", path)["next_cursor"]
    if not found:
        sys.exit("contract_fuzz_seed: %s has a single page" % path)
    return found


def main():
    contact = demo_contact()
    # Two connections: one the fuzz may delete, and audit entries to page through.
    call("POST", "/connections", {"provider": "calcom", "external_id": "contract-fuzz-kept"})
    doomed = call("POST", "/connections", {"provider": "calcom", "external_id": "contract-fuzz"})
    export = call("POST", "/contacts/%s/exports" % contact, {"format": "txt"})
    values = {
        "FUZZ_EXPORT": export["export_id"],
        "FUZZ_CONTACT": contact,
        "FUZZ_CONNECTION": doomed["connection_id"],
        "FUZZ_CURSOR_CONTACTS": cursor("/contacts?limit=1"),
        "FUZZ_CURSOR_TIMELINE": cursor("/contacts/%s/timeline?limit=1" % contact),
        "FUZZ_CURSOR_MESSAGES": cursor("/contacts/%s/messages?limit=1" % contact),
        "FUZZ_CURSOR_AUDIT": cursor("/audit?limit=1"),
    }
    for key, value in values.items():
        print("%s=%s" % (key, value))


if __name__ == "__main__":
    main()
