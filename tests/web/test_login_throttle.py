"""Brute-force guard on the login form: 5 failures per user name and client within 5 minutes, then 429."""

from imagebio.web.security import LoginThrottle

from tests.web.conftest import PASSWORD, csrf_from


def test_throttle_forgets_failures_after_the_window_and_on_success():
    now = [0.0]
    throttle = LoginThrottle(max_failures=3, window_s=60.0, clock=lambda: now[0])
    key = ("ana", "127.0.0.1")
    for _ in range(3):
        assert throttle.retry_after_s(key) == 0
        throttle.failed(key)
    assert throttle.retry_after_s(key) == 60.0
    now[0] = 59.0
    assert throttle.retry_after_s(key) == 1.0
    now[0] = 60.5
    assert throttle.retry_after_s(key) == 0  # all three failures (at t = 0) left the window
    for _ in range(3):
        throttle.failed(key)
    assert throttle.retry_after_s(key) == 60.0
    throttle.succeeded(key)
    assert throttle.retry_after_s(key) == 0


def test_login_form_refuses_after_five_failures_even_with_the_right_password(web_store):
    from fastapi.testclient import TestClient

    from imagebio.web.app import create_app

    app = create_app(web_store, secret_key="throttle-test-" + "x" * 32)
    with TestClient(app) as client:
        token = csrf_from(client.get("/login").text)
        for _ in range(5):
            bad = client.post("/login", data={"username": "ana", "password": "wrong password", "csrf_token": token})
            assert bad.status_code == 401
        blocked = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf_token": token},
                              follow_redirects=False)
        assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
        # another user name from the same client is not blocked
        other = client.post("/login", data={"username": "vic", "password": "wrong password", "csrf_token": token})
        assert other.status_code == 401
