"""A site shaped like today's: static menu, footer and consent banner around main content
that JavaScript fills in (on some pages), for crawls with ``render=auto``.

Every client-rendered page hides facts (``JS_FACTS``) that exist only after its scripts
ran, each in its own sentence; the static pages carry theirs in the HTML and run scripts
too (analytics), so they must not be rendered.
"""

from __future__ import annotations

import json

from tests.sites import Page, Site

CONSENT_TEXT = (
    "We use cookies and similar technologies to improve your experience, measure our "
    "audience and show you personalised content. By clicking Accept all you agree to the "
    "processing of your data by us and our 42 partners as described in our cookie policy."
)
NEWSLETTER_TEXT = "Subscribe to the Helio Robotics newsletter and get 10% off your first order."

# Facts that exist only after the page's scripts ran: path asked for -> sentences
# (/latest redirects to /news).
JS_FACTS: dict[str, list[str]] = {
    "/team": [
        "Ada Osei has led the engineering team of Helio Robotics since 2019.",
        "Bruno Laval joined Helio Robotics as head of manufacturing in Lyon.",
    ],
    "/products": [
        "The Helio Rover X3 carries a payload of 40 kilograms over rough terrain.",
        "The Helio Scanbot S2 maps a warehouse of 10,000 square metres in one hour.",
    ],
    "/history": [
        "Helio Robotics was founded in Rotterdam in 2014 by Mira Janssen.",
        "In 2021 Helio Robotics opened its second factory in Porto.",
    ],
    "/latest": ["Helio Robotics signed a supply agreement with Nordhavn Logistics in March 2026."],
}
# Facts of the pages served with their content: path -> sentence.
STATIC_FACTS = {
    "/": "Helio Robotics builds autonomous rovers for warehouses, farms and building sites.",
    "/about": "Helio Robotics employs 230 people in Rotterdam, Lyon and Porto.",
}

_NAV = (
    "<header class='site-header'><a href='/' class='logo'>Helio Robotics</a>"
    "<nav><ul><li><a href='/'>Home</a></li><li><a href='/about'>About</a></li>"
    "<li><a href='/team'>Team</a></li><li><a href='/products'>Products</a></li>"
    "<li><a href='/history'>History</a></li><li><a href='/latest'>News</a></li>"
    "<li><a href='/private/admin'>Admin</a></li></ul></nav></header>"
)
_CONSENT = (
    "<div id='cookie-consent' class='cookie-banner' role='dialog' aria-label='Cookie consent'>"
    f"<h2>Your privacy</h2><p>{CONSENT_TEXT}</p>"
    "<button>Accept all</button><button>Reject all</button><a href='/privacy'>Settings</a></div>"
)
_FOOTER = (
    "<footer><p>Helio Robotics B.V., Maasboulevard 12, 3011 Rotterdam, the Netherlands. "
    "Chamber of Commerce 12345678.</p><p>© 2026 Helio Robotics. All rights reserved.</p>"
    "<a href='/privacy'>Privacy</a> <a href='/terms'>Terms</a></footer>"
)
_ANALYTICS = (
    "<script>window.dataLayer = window.dataLayer || []; dataLayer.push({page: 1});</script>"
)
# A pop-up the page's scripts open after load, over the content.
_NEWSLETTER_SCRIPT = (
    "<script>window.addEventListener('load', () => {"
    " const modal = document.createElement('div');"
    " modal.className = 'newsletter-modal';"
    " modal.setAttribute('aria-modal', 'true');"
    f" modal.innerHTML = '<h2>Stay in touch</h2><p>{NEWSLETTER_TEXT}</p>"
    "<button>Subscribe</button>';"
    " document.body.appendChild(modal); });</script>"
)


def _page(title: str, main: str, scripts: str = "") -> str:
    return (
        f"<!doctype html><html lang='en'><head><title>{title} | Helio Robotics</title>"
        f"{_ANALYTICS}</head><body>{_CONSENT}{_NAV}<main>{main}</main>{_FOOTER}"
        f"{scripts}</body></html>"
    )


def _paragraphs(sentences: list[str]) -> str:
    return "".join(f"<p>{s}</p>" for s in sentences)


def _inject(target: str, html: str) -> str:
    """A script that sets the inner HTML of the element matching ``target``."""
    return (
        "<script>document.addEventListener('DOMContentLoaded', () => {"
        f" document.querySelector({json.dumps(target)}).innerHTML = {json.dumps(html)}; }});"
        "</script>"
    )


def _history_html() -> str:
    """A long history (several chunks) with its two facts far apart."""
    filler = [
        f"In year {n} of its history the company kept refining its rovers, testing them on "
        "farms, in warehouses and on building sites, and listening to what operators said."
        for n in range(1, 61)
    ]
    first, second = JS_FACTS["/history"]
    return (
        "<h1>Our history</h1>"
        + _paragraphs([first, *filler[:30]])
        + "<h2>Growing up</h2>"
        + _paragraphs([*filler[30:], second])
    )


_PRODUCTS_SCRIPT = (
    "<script>fetch('/api/products.json').then(r => r.json()).then(products => {"
    " const list = document.querySelector('#product-list');"
    " list.classList.remove('skeleton');"
    " list.innerHTML = products.map(p => `<article><h2>${p.name}</h2><p>${p.text}</p>"
    "<p>${p.more}</p></article>`).join(''); });</script>"
)
_PRODUCTS = [
    {"name": "Helio Rover X3", "text": JS_FACTS["/products"][0],
     "more": "Its battery lasts a full working day and charges in two hours at the dock."},
    {"name": "Helio Scanbot S2", "text": JS_FACTS["/products"][1],
     "more": "It exports its maps to every common warehouse management system on the market."},
]  # fmt: skip


def client_rendered_site() -> Site:
    """The site: two static pages, four whose main content JavaScript renders."""
    about_text = [
        STATIC_FACTS["/about"],
        "The company designs its rovers in Rotterdam, builds them in Lyon and Porto, and "
        "services them wherever its customers work, from Dutch greenhouses to Spanish ports.",
        "Its engineers publish their research on navigation in cluttered spaces every year.",
    ]
    home_text = [
        STATIC_FACTS["/"],
        "Our rovers carry goods, scan shelves and inspect sites on their own, day and night, "
        "and they work next to people safely thanks to sensors on every side.",
        "Read about our team, our products and our history using the menu above.",
    ]
    return {
        "/": _page("Home", "<h1>Helio Robotics</h1>" + _paragraphs(home_text)),
        "/about": _page("About", "<h1>About us</h1>" + _paragraphs(about_text)),
        # An app root the framework mounts into.
        "/team": _page(
            "Team",
            "<div id='root'></div>",
            _inject("#root", "<h1>Our team</h1>" + _paragraphs(JS_FACTS["/team"])),
        ),
        # A heading and a loading skeleton, filled from an API.
        "/products": _page(
            "Products",
            "<h1>Products</h1><div id='product-list' class='skeleton' aria-busy='true'>"
            "<div class='skeleton-card'></div><div class='skeleton-card'></div></div>",
            _PRODUCTS_SCRIPT + _NEWSLETTER_SCRIPT,
        ),
        "/api/products.json": Page(json.dumps(_PRODUCTS), content_type="application/json"),
        # A notice for browsers without JavaScript.
        "/history": _page(
            "History",
            "<noscript>Please enable JavaScript to read this page.</noscript>"
            "<section class='content'></section>",
            _inject("section.content", _history_html()),
        ),
        # Moved, and nothing at all in the main element.
        "/latest": Page("", status=301, headers={"Location": "/news"}),
        "/news": _page(
            "News",
            "",
            _inject("main", "<h1>News</h1>" + _paragraphs(JS_FACTS["/latest"]))
            + _NEWSLETTER_SCRIPT,
        ),
        "/privacy": _page("Privacy", "<h1>Privacy</h1>" + _paragraphs(home_text[1:] * 2)),
        "/terms": _page("Terms", "<h1>Terms</h1>" + _paragraphs(about_text[1:] * 2)),
        "/robots.txt": Page("User-agent: *\nDisallow: /private/\n", content_type="text/plain"),
        "/private/admin": _page("Admin", "<h1>Admin</h1><p>Never to be crawled.</p>"),
    }
