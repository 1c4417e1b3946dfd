"""A link a page shows must open for the person it is shown to (no 403/404/500 behind it)."""

from __future__ import annotations

import re

import pytest

from .factories import PASSWORD, ROLE_ACCOUNTS, ROLES

HREF = re.compile(r'href="(/[^"#]*)"')
SKIP = ("/static/", "/logout")


@pytest.mark.parametrize("role", ROLES)
def test_links_shown_to_a_role_open_for_it(role, browser, school):
    school.add_planning()
    browser.login(ROLE_ACCOUNTS[role], PASSWORD, role=school.role_key(role))
    pages = ["/"] + sorted(set(HREF.findall(browser.get("/").get_data(as_text=True))))
    seen, failures = set(), []
    for page in pages:  # the first page, every page it links to, and their links
        if page in seen or page.startswith(SKIP):
            continue
        seen.add(page)
        response = browser.get(page.replace("&amp;", "&"))
        if response.status_code in (403, 404, 500):
            failures.append(f"{page}: {response.status_code}")
            continue
        if response.mimetype == "text/html" and len(pages) < 400:
            pages += HREF.findall(response.get_data(as_text=True))
        response.close()
    assert not failures, "\n".join(failures)
    assert len(seen) > 8, seen  # the walk really went through the role's pages
