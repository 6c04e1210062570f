"""A user's test file on the ``dingstore`` pytest fixture and the official SDK, nothing else
configured: test_wheel.py runs it from the installed wheel (issue 17's "done when")."""

USER_TESTS = """\
from alibabacloud_dingtalk.storage_1_0 import models
from alibabacloud_dingtalk.storage_1_0.client import Client
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions
from Tea.exceptions import TeaException


def storage(dingstore):
    return Client(Config(protocol="http", endpoint=dingstore.endpoint))


def add_folder(dingstore, space_id, name):
    return storage(dingstore).add_folder_with_options(
        space_id,
        "0",
        models.AddFolderRequest(union_id=dingstore.union_id, name=name),
        models.AddFolderHeaders(x_acs_dingtalk_access_token=dingstore.access_token()),
        RuntimeOptions(autoretry=False),
    ).body.dentry


def test_a_space_and_a_folder(dingstore):
    space = storage(dingstore).add_space_with_options(
        models.AddSpaceRequest(union_id=dingstore.union_id),
        models.AddSpaceHeaders(x_acs_dingtalk_access_token=dingstore.access_token()),
        RuntimeOptions(autoretry=False),
    ).body.space
    assert add_folder(dingstore, space.id, "reports").name == "reports"
    dingstore.inject_fault("AddFolder", "quotaUsedExceeded", status=403)
    try:
        add_folder(dingstore, space.id, "more")
    except TeaException as err:
        assert err.code == "quotaUsedExceeded"
    else:
        raise AssertionError("the fault did not fire")
    assert [e["name"] for e in dingstore.events()] == []  # nobody subscribed


def test_each_test_has_its_own_org(dingstore, dingstore_server):
    assert dingstore.endpoint == dingstore_server.endpoint
    assert dingstore.corp_id.startswith("ding")
"""
