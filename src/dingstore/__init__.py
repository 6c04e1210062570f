"""dingstore: a self-hostable server for DingTalk's organization-storage open API."""

__version__ = "0.1.0"
