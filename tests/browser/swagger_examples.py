"""Swagger UI, used as a person uses it: authorize, then execute every operation's example.

Run by `.ci/browser` against a `tenantry serve` the README's walk has just run on. Every
operation of the OpenAPI document is executed once, in an order that makes what the later
ones need, from its own example body; path parameters are filled with what the walk (or an
earlier example) made, as their descriptions tell a person to. Each must answer its
documented success status. On a failure, a screenshot of the page is saved.

Usage: swagger_examples.py BASE_URL ADMIN_TOKEN WALK_VALUES_FILE SCREENSHOT_DIR
"""

import json
import os
import re
import sys
import urllib.request

from playwright.sync_api import sync_playwright

BASE, ADMIN, VALUES, SHOTS = sys.argv[1:5]
walk = dict(line.split("=", 1) for line in open(VALUES).read().split() if "=" in line)
ADA = walk["ADA_KEY"]
state = {"organization_id": walk["ORG"], "id": walk["ORG"], "entry_id": walk["ENTRY"]}

# (caller, operationId): each operation finds what it needs made by one before it; the
# deletions come last.
PLAN = [
    (ADMIN, "get_health"),
    (ADMIN, "get_readiness"),
    (ADMIN, "create_user"),  # Grace, to be added as a member
    (ADMIN, "create_webhook_endpoint"),  # before the changes, so that they are delivered
    (ADMIN, "list_webhook_endpoints"),
    (ADMIN, "get_webhook_endpoint"),
    (ADMIN, "update_webhook_endpoint"),
    (ADA, "get_current_user"),
    (ADA, "create_api_key"),
    (ADA, "list_api_keys"),
    (ADA, "create_organization"),
    (ADA, "list_organizations"),
    (ADA, "get_organization"),
    (ADA, "update_organization"),
    (ADA, "get_entitlements"),
    (ADA, "set_max_overages"),
    (ADA, "add_member"),
    (ADA, "list_members"),
    (ADA, "update_member"),
    (ADA, "remove_member"),
    (ADA, "get_usage"),
    (ADA, "create_usage"),
    (ADA, "list_usage_entries"),
    (ADA, "create_usage_refund"),
    (ADA, "create_workspace"),
    (ADA, "list_workspaces"),
    (ADA, "delete_workspace"),
    (ADA, "get_current_organization"),
    (ADA, "update_current_organization"),
    (ADA, "get_organization_by_id"),
    (ADA, "update_organization_by_id"),
    (ADA, "get_organization_logo"),
    (ADA, "list_organization_events"),
    (ADMIN, "list_events"),
    (ADMIN, "list_webhook_deliveries"),
    (ADMIN, "create_webhook_delivery_retry"),
    (ADMIN, "create_webhook_endpoint_secret"),
    (ADMIN, "delete_webhook_endpoint"),
    (ADA, "delete_api_key"),
    (ADA, "delete_organization"),
]

# What an answer makes, for the operations after it: operationId -> (state key, reader).
MAKES = {
    "create_user": ("user_id", lambda body: body["id"]),
    "create_webhook_endpoint": ("endpoint_id", lambda body: body["id"]),
    "create_api_key": ("key_id", lambda body: body["id"]),
    "create_workspace": ("workspace_id", lambda body: body["id"]),
    "list_webhook_deliveries": ("delivery_id", lambda body: body[0]["id"]),
}

document = json.load(urllib.request.urlopen(f"{BASE}/openapi.json"))
operations = {}
for path, item in document["paths"].items():
    for method, operation in item.items():
        if isinstance(operation, dict) and "operationId" in operation:
            operations[operation["operationId"]] = (method, path, operation)
planned = {operation_id for _, operation_id in PLAN}
missing = set(operations) - planned
assert not missing, f"operations the browser test does not execute: {sorted(missing)}"


def success_status(operation):
    return next(int(s) for s in operation["responses"] if s.startswith("2"))


def dom_id(tag, operation_id):
    # Swagger UI's ids: spaces in the tag become underscores.
    return f"operations-{tag.replace(' ', '_')}-{operation_id}"


def authorize(page, key):
    page.click("button.authorize")
    dialog = page.locator(".dialog-ux")
    logout = dialog.locator("button:has-text('Logout')")
    if logout.count():
        logout.first.click()
    dialog.locator("input").first.fill(key)
    dialog.locator("button.authorize").first.click()
    dialog.locator("button.btn-done").first.click()


def execute(page, operation_id):
    method, path, operation = operations[operation_id]
    block = page.locator(f"#{dom_id(operation['tags'][0], operation_id)}")
    block.locator(".opblock-summary").first.click()
    block.locator("button.try-out__btn").click()
    for parameter in operation.get("parameters") or []:
        name = parameter["name"]
        if parameter["in"] == "path":
            value = state[name]
        elif parameter["in"] == "header" and name == "X-Organization-Id":
            value = state["organization_id"]
        else:
            continue
        block.locator(f'tr[data-param-name="{name}"] input').fill(value)
    if operation_id == "add_member":
        # As the operation's description says: the example's userId is replaced.
        body = block.locator("textarea.body-param__text")
        example = json.loads(body.input_value())
        example["userId"] = state["user_id"]
        body.fill(json.dumps(example))
    block.locator("button.execute").click()
    status_cell = block.locator(".live-responses-table .response .response-col_status")
    status_cell.first.wait_for(timeout=15_000)
    status = int(re.match(r"\d+", status_cell.first.inner_text().strip()).group(0))
    text = ""
    code = block.locator(".live-responses-table .response-col_description pre")
    if code.count():
        text = code.first.inner_text()
    expected = success_status(operation)
    if status != expected:
        raise AssertionError(
            f"{method.upper()} {path} ({operation_id}) answered {status}, not {expected}: {text[:400]}"
        )
    if operation_id in MAKES:
        key, read = MAKES[operation_id]
        state[key] = read(json.loads(text))
    # Fold it again, so that the page stays short.
    block.locator(".opblock-summary").first.click()


def main():
    os.makedirs(SHOTS, exist_ok=True)
    failures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{BASE}/swagger-ui/")
        page.wait_for_selector(".opblock")
        caller = None
        for who, operation_id in PLAN:
            if who != caller:
                authorize(page, who)
                caller = who
            try:
                execute(page, operation_id)
                print(f"ok   {operation_id}")
            except Exception as error:  # one failure should not hide the next
                shot = os.path.join(SHOTS, f"{operation_id}.png")
                page.screenshot(path=shot, full_page=True)
                failures.append(f"{operation_id}: {error} (screenshot {shot})")
                print(f"FAIL {operation_id}: {error}")
                page.reload()
                page.wait_for_selector(".opblock")
                caller = None
        browser.close()
    if failures:
        print(f"{len(failures)} of {len(PLAN)} examples failed:\n" + "\n".join(failures))
        sys.exit(1)
    print(f"all {len(PLAN)} operations' examples answered their documented success status")


main()
