"""What an `out: s3://...` and its credentials may be: the standard AWS places only, and a clear
error for a URL or an endpoint that cannot be used."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from wanform.runner.cli import main
from wanform.runner.storage.credentials import credentials
from wanform.runner.storage.errors import StoreAccess, StoreSetting
from wanform.runner.storage.location import Location
from wanform.runner.storage.s3 import StoreSettings

PROFILES = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d-secret\n"
PROFILES += "[team]\naws_access_key_id = AKIATEAM\naws_secret_access_key = t-secret\n"


def test_the_environment_wins_over_the_shared_credentials_file(tmp_path):
    """AWS_ACCESS_KEY_ID and its secret (and a session token) are taken as they are."""
    (tmp_path / "credentials").write_text(PROFILES)
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAENV",
        "AWS_SECRET_ACCESS_KEY": "e-secret",
        "AWS_SESSION_TOKEN": "tok",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    assert credentials(env) == {
        "access_key_id": "AKIAENV",
        "secret_access_key": "e-secret",
        "token": "tok",
    }


def test_aws_profile_names_a_section_of_the_shared_credentials_file(tmp_path):
    """AWS_PROFILE's section is read; without it, `default`; a missing section is an error."""
    (tmp_path / "credentials").write_text(PROFILES)
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "AWS_PROFILE": "team"}
    assert credentials(env) == {"access_key_id": "AKIATEAM", "secret_access_key": "t-secret"}
    assert credentials({**env, "AWS_PROFILE": ""})["access_key_id"] == "AKIADEFAULT"
    with pytest.raises(StoreAccess, match=r"AWS_PROFILE=nobody: .* has no section \[nobody\]"):
        credentials({**env, "AWS_PROFILE": "nobody"})


def test_no_credentials_anywhere_leaves_them_to_the_role(tmp_path):
    """Nothing in the environment or the file: the client asks the instance's role itself."""
    assert credentials({"HOME": str(tmp_path)}) == {}


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("s3://Bad_Bucket/x", "not s3://BUCKET/PREFIX with a valid bucket name"),
        ("s3://bucket/a/../b", "the prefix has an empty, . or .. part"),
    ],
)
def test_an_unusable_store_url_is_refused_saying_why(url, said):
    """A bucket S3 would refuse, or a prefix that climbs, is named in the error."""
    with pytest.raises(StoreSetting, match=said):
        Location.parse(url)


def test_a_plain_http_endpoint_is_refused_off_this_machine():
    """Plain HTTP only to 127.0.0.1; anywhere else the endpoint must be https."""
    assert StoreSettings("http://127.0.0.1:9000").client_config()["endpoint"]
    with pytest.raises(StoreSetting, match="use https://"):
        StoreSettings("http://oss.example.com").client_config()


def test_a_location_hands_out_keys_only_under_its_prefix():
    """A URI of another bucket, another prefix or with `..` has no key here."""
    place = Location.parse("s3://bucket/shots/")
    assert place.key_of("s3://bucket/shots/fox/fox-1.png") == "shots/fox/fox-1.png"
    assert place.key_of("s3://bucket/other/fox-1.png") is None
    assert place.key_of("s3://other/shots/fox-1.png") is None
    assert place.key_of("s3://bucket/shots/../secret.png") is None


def test_run_with_an_unusable_store_url_says_why_and_sends_nothing(tmp_path):
    """`--out s3://Bad_Bucket` exits 1 with the reason, before any validation is paid for."""
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "fox.yaml").write_text("model: wan2.7-image\nprompt: A fox.\nn: 1\n")
    argv = ["run", "--root", str(tmp_path), "--out", "s3://Bad_Bucket/x", "--target", "emulator"]
    done = CliRunner().invoke(main, argv, catch_exceptions=False)
    assert done.exit_code != 0
    assert "StoreSetting: 's3://Bad_Bucket/x' is not s3://BUCKET/PREFIX" in done.output
    assert "Traceback" not in done.output


def test_addressing_is_virtual_off_this_machine_unless_the_project_says_path():
    """OSS needs bucket.host; a MinIO without a domain needs host/bucket: `addressing: path`."""
    remote = "https://minio.example.com:9000"
    assert StoreSettings(remote).client_config()["virtual_hosted_style_request"] is True
    pathed = StoreSettings(remote, addressing="path").client_config()
    assert pathed["virtual_hosted_style_request"] is False
    local = StoreSettings("http://127.0.0.1:9000").client_config()
    assert local["virtual_hosted_style_request"] is False


def test_the_project_file_takes_addressing_and_refuses_other_styles(tmp_path):
    """`storage.addressing` reaches the store; a misspelt one is a located project-file error."""
    from wanform.runner.app.checks import store_of
    from wanform.runner.recipes.projectfile import read

    (tmp_path / "wanform.yaml").write_text(
        "out: s3://shots/run\nstorage:\n  endpoint: https://minio.example.com\n  addressing: path\n"
    )
    store = store_of(read(tmp_path), "s3://shots/run", {})
    assert store is not None and store._config["virtual_hosted_style_request"] is False
    (tmp_path / "wanform.yaml").write_text("out: s3://shots/run\nstorage:\n  addressing: paths\n")
    ((where, problem),) = read(tmp_path).problems
    assert (where.line, where.column) == (3, 15)
    assert "addressing" in problem.message
