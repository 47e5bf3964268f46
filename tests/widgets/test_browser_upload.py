"""The browser upload widget: the front-end module's own code (run in Node.js) finds the
server's base URL on JupyterLab 4 and Voila 0.5 pages, reads the XSRF cookie and builds the
request; the kernel side turns the browser's messages into files, progress and results."""

from __future__ import annotations

import json

import pytest

from astralytiq_jupyter.core.errors import Cancelled, Invalid, QuotaExceeded
from astralytiq_jupyter.widgets.browser_upload import BrowserUpload, UploadResult

from .browser import BrowserSide, fake_document, run_js


@pytest.mark.parametrize(
    ("config", "body", "expected"),
    [
        # JupyterLab 4 / Notebook 7: the page config's baseUrl (JupyterHub: /user/name/)
        ({"baseUrl": "/user/ann/", "appName": "JupyterLab"}, "", "/user/ann/"),
        # Voila 0.5 (lab and classic templates): page config, and body data-base-url + voila/
        ({"baseUrl": "/a%40b/", "kernelId": "k"}, "/a%40b/voila/", "/a%40b/"),
        # a page with only the body attribute (older templates): "voila/" is cut
        (None, "/base/voila/", "/base/"),
        ({"baseUrl": "/no-slash"}, "", "/no-slash/"),
        (None, "", "/"),
    ],
)
def test_base_url_from_the_page(config, body, expected) -> None:
    assert run_js(f"m.baseUrl({fake_document(config, body)})") == expected


def test_xsrf_cookie_and_request() -> None:
    cookies = "username-127-0-0-1-8888=abc; _xsrf=2|d1b|e4f%3D|1700000000; other=1"
    assert run_js(f"m.xsrfToken({json.dumps(cookies)})") == "2|d1b|e4f=|1700000000"
    assert run_js("m.xsrfToken('a=1')") == ""
    request = run_js(
        "m.uploadRequest({base: '/user/ann/', origin: 'https://hub.example/user/ann/lab', "
        "name: 'q1 sales', query: {delimiter: '\\t', null_values: ['', 'NA'], sheet_number: '2'},"
        " xsrf: ''})"
    )
    assert request == {
        "method": "POST",
        "url": "https://hub.example/user/ann/astralytiq/api/datasets/q1%20sales/versions"
        "?delimiter=%09&null_values=&null_values=NA&sheet_number=2",
        "headers": {"Content-Type": "application/octet-stream"},
    }


def test_messages_from_the_browser_reach_the_kernel_callbacks() -> None:
    widget = BrowserUpload()
    side = BrowserSide(widget)
    events: list[tuple[str, object]] = []
    widget.on_chosen(lambda f: events.append(("chosen", (f.name, f.size))))
    widget.on_head(lambda f: events.append(("head", (f.head, f.complete))))
    widget.on_progress(lambda done, total: events.append(("progress", (done, total))))
    widget.on_result(lambda r: events.append(("result", r)))
    with pytest.raises(Invalid, match="Choose a file"):
        widget.upload("x", {})
    side.choose("a.csv", b"a,b\n1,2\n")
    widget.request_head(4)
    assert side.sent == [{"type": "read", "length": 4}]
    side.deliver_head()
    widget.upload("a", {"filename": "a.csv"})
    assert widget.uploading and side.sent[-1]["type"] == "upload"
    side.deliver({"type": "progress", "loaded": 4, "total": 8})
    side.deliver({"type": "result", "status": 201, "body": json.dumps({"ref": "a@1"})})
    assert not widget.uploading
    kinds = [kind for kind, _ in events]
    assert kinds == ["chosen", "head", "progress", "result"]
    assert events[1][1] == (b"a,b\n", False) and events[2][1] == (4, 8)
    assert events[3][1].ok and events[3][1].body == {"ref": "a@1"}
    widget.cancel()
    widget.reset()
    assert side.sent[-2:] == [{"type": "cancel"}, {"type": "reset"}] and widget.file is None


def test_failed_uploads_become_the_products_errors() -> None:
    quota = UploadResult(
        413,
        {"error": "quota_exceeded", "message": "Too big.", "detail": {"limit": 5}},
    ).exception()
    assert isinstance(quota, QuotaExceeded) and quota.message == "Too big."
    assert quota.detail == {"limit": 5}
    assert isinstance(UploadResult(400, None).exception(), Invalid)
    assert isinstance(UploadResult(0, None, "x", cancelled=True).exception(), Cancelled)
    offline = UploadResult(0, None, "The upload failed: the server could not be reached.")
    assert "could not be reached" in offline.exception().message and not offline.ok
