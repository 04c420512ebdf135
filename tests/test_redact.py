from camwatch.redact import redact_text, redact_url


def test_redact_url_keeps_user_hides_password() -> None:
    assert (
        redact_url("rtsp://admin:s3cret@10.0.0.5:554/a?b=1")
        == "rtsp://admin:***@10.0.0.5:554/a?b=1"
    )
    assert redact_url("rtsp://10.0.0.5/a") == "rtsp://10.0.0.5/a"
    assert "p%40ss" not in redact_url("rtsp://u:p%40ss@h/x")


def test_redact_text_finds_urls_in_messages() -> None:
    text = "failed rtsp://u:pw@h/x then rtspt://v:zz@k/y"
    out = redact_text(text)
    assert "pw" not in out and "zz" not in out and "rtsp://u:***@h/x" in out
