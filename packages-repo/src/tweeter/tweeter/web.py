"""The tweeter web app (aiohttp): post short messages, read the timeline, see the analytics.

Pages: `GET /` (the post form and the timeline, newest first), `POST /tweets` (the form's
target; 303 back to `/`), `GET /analytics` (top words and hashtags from tweeter-analytics).
JSON: `GET /api/tweets?limit=N` -> `{"count", "tweets": [{"id", "handle", "text", "time"}]}`
(newest first, N 1-500, default 50), `POST /api/tweets {"handle", "text"}` -> 201 the tweet,
`GET /api/analytics` -> the last analytics result (404 before the first one).
`GET /health`: 200 when Redis answers PING, else 503 with the reason.
Bad input: 400 `{"message", "field"}`; Redis unreachable: 503 `{"message"}`. Every answer has
`X-Tweeter-Instance` (the task id) so a client behind the load balancer sees who answered.

Called by `tweeter.__main__` (`make_app`), which runs it.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tweeter.store import AsyncStore, InvalidTweet, StoreUnavailable, Tweet, checked_fields

STORE: web.AppKey[AsyncStore] = web.AppKey("store", AsyncStore)
MAX_LIMIT = 500
DEFAULT_LIMIT = 50
STYLE = ("body{font-family:sans-serif;max-width:40em;margin:2em auto}li{margin:.5em 0}"
         "small{color:#777}td{padding:0 1em}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(store: AsyncStore, instance: str = "") -> web.Application:
    """The application over `store`; `instance` goes into every answer's X-Tweeter-Instance."""
    instance = instance or os.environ.get("MESOS_TASK_ID", "") or f"pid-{os.getpid()}"

    @web.middleware
    async def tag(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            resp = await handler(request)
        except StoreUnavailable as exc:
            resp = unavailable(request, str(exc))
        except web.HTTPException as exc:
            exc.headers["X-Tweeter-Instance"] = instance
            raise
        resp.headers["X-Tweeter-Instance"] = instance
        return resp

    app = web.Application(middlewares=[tag], client_max_size=64 * 1024)
    app[STORE] = store
    app.router.add_get("/", index)
    app.router.add_post("/tweets", post_form)
    app.router.add_get("/analytics", analytics_page)
    app.router.add_get("/api/tweets", api_timeline)
    app.router.add_post("/api/tweets", api_post)
    app.router.add_get("/api/analytics", api_analytics)
    app.router.add_get("/health", health)

    async def closing(app: web.Application) -> None:
        await app[STORE].close()

    app.on_cleanup.append(closing)
    return app


def unavailable(request: web.Request, reason: str) -> web.Response:
    if request.path.startswith("/api/") or request.path == "/health":
        return web.json_response({"message": f"storage unavailable: {reason}"}, status=503)
    return page("tweeter: unavailable", f"<p>Storage unavailable: {html.escape(reason)}</p>",
                status=503)


def bad_request(exc: InvalidTweet) -> web.Response:
    return web.json_response({"message": str(exc), "field": exc.field}, status=400)


def tweet_json(t: Tweet) -> dict[str, Any]:
    return {"id": t.id, "handle": t.handle, "text": t.text, "time": t.time}


def page(title: str, body: str, status: int = 200) -> web.Response:
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>"
        "<p><a href='/'>timeline</a> | <a href='/analytics'>analytics</a></p>"
        f"{body}</body></html>"
    )
    return web.Response(text=doc, content_type="text/html", status=status)


# ---- pages -------------------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    store = request.app[STORE]
    tweets = await store.timeline(DEFAULT_LIMIT)
    total = await store.count()
    items = "".join(
        f"<li><b>@{html.escape(t.handle)}</b> {html.escape(t.text)} "
        f"<small>{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(t.time))} UTC</small></li>"
        for t in tweets
    )
    form = (
        "<form method='post' action='/tweets'>"
        "<input name='handle' placeholder='handle' size='12' required maxlength='32'> "
        "<input name='text' placeholder='What is happening? #hashtags welcome' size='50' "
        "required maxlength='280'> <button>Tweet</button></form>"
    )
    body = f"{form}<p>{total} messages</p><ol>{items}</ol>"
    return page("tweeter", body)


async def post_form(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        handle, text = checked_fields(form.get("handle"), form.get("text"))
    except InvalidTweet as exc:
        return page("tweeter", f"<p>Not posted: {html.escape(str(exc))}</p>", status=400)
    await request.app[STORE].post(handle, text)
    raise web.HTTPSeeOther("/")


async def analytics_page(request: web.Request) -> web.Response:
    result = await request.app[STORE].analytics()
    if result is None:
        return page("tweeter analytics", "<p>No analytics yet: is tweeter-analytics installed?</p>")

    def table(title: str, rows: list[list[Any]]) -> str:
        cells = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td class='count'>{int(c)}</td></tr>" for k, c in rows
        )
        return f"<h2>{title}</h2><table class='{title.lower().replace(' ', '-')}'>{cells}</table>"

    computed = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(result.get("computed_at", 0))))
    body = (
        f"<p>{int(result.get('messages', 0))} messages analysed at {computed} UTC "
        f"in {float(result.get('duration_s', 0)):.2f} s on the batch cluster.</p>"
        + table("Top words", result.get("top_words", []))
        + table("Top hashtags", result.get("top_hashtags", []))
    )
    return page("tweeter analytics", body)


# ---- JSON ----------------------------------------------------------------------------------


async def api_timeline(request: web.Request) -> web.Response:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        return web.json_response(
            {"message": f"limit must be an integer 1-{MAX_LIMIT}", "field": "limit"}, status=400
        )
    store = request.app[STORE]
    tweets = await store.timeline(int(raw))
    return web.json_response({"count": await store.count(), "tweets": [tweet_json(t) for t in tweets]})


async def api_post(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"message": "body must be a JSON object", "field": ""}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"message": "body must be a JSON object", "field": ""}, status=400)
    try:
        handle, text = checked_fields(body.get("handle"), body.get("text"))
    except InvalidTweet as exc:
        return bad_request(exc)
    tweet = await request.app[STORE].post(handle, text)
    return web.json_response(tweet_json(tweet), status=201)


async def api_analytics(request: web.Request) -> web.Response:
    result = await request.app[STORE].analytics()
    if result is None:
        return web.json_response({"message": "no analytics yet"}, status=404)
    return web.json_response(result)


async def health(request: web.Request) -> web.Response:
    store = request.app[STORE]
    problem = await store.ping()
    if problem:
        return web.json_response({"healthy": False, "reason": problem}, status=503)
    return web.json_response({"healthy": True, "redis": str(store.locator.known() or "")})
