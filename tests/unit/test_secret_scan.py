"""Fast layer: the secret scan's shapes, in-process (the end-to-end cases: tests/test_secrets.py)."""


def test_prose_that_mentions_a_secret_word_is_no_assignment():
    """more-itertools' peekable docstring ("Pass :meth:`peek` a default value...") was refused."""
    from amber.capture.policy.secret_shapes import named_in_text

    assert named_in_text("    Pass :meth:`peek` a default value to return", set(), ()) is None
    assert named_in_text("token: see the docs for how to get one", set(), ()) is None
    assert named_in_text("DB_PASSWORD=hunter2hunter2xx\n", set(), ()) == ("DB_PASSWORD", "hunter2hunter2xx")
    assert named_in_text("https://x/?access_token=abcDEF123456789&x=1", set(), ()) == \
        ("access_token", "abcDEF123456789")
    assert named_in_text('{"password_bytes":"IAmSensitiveBytes"}', set(), ()) is None  # pydantic's docs


def test_names_and_words_under_secret_names_are_no_secrets():
    """Django's SESSION_KEY = "_auth_user_id" and a template lexer's Token.token were refused."""
    from amber.capture.policy.secret_shapes import plausible, secret_name

    assert secret_name("SESSION_KEY") and not plausible("_auth_user_id") and not plausible("_csrftoken")
    assert not secret_name("token") and not secret_name("filter_token")  # a lexer's, as often as not
    assert secret_name("access_token") and secret_name("refreshToken") and secret_name("GITHUB_TOKEN")
    assert not plausible("not-a-secret-just-for-tests") and not plausible("IAmSensitiveBytes")
    assert plausible("xKqPzLmWnRtYvBsQ") and plausible("hunter2hunter2xx") and plausible("s3cr3t-P4ss!")
