"""Online editing through a WOPI office server (Collabora Online, OnlyOffice): dingstore is the
WOPI host. docs/previews.md tells it from the user's side.

* ``discovery.py`` reads the office server's discovery XML (cached) and builds editor URLs;
* ``tokens.py`` signs the access tokens the office server calls back with;
* ``proof.py`` checks the office server's proof signatures (``X-WOPI-Proof``);
* ``sessions.py`` is GetWebOfficeUrl and RefreshWebOfficeToken;
* ``host.py`` answers the WOPI calls: CheckFileInfo, GetFile, PutFile and the locks;
* ``opener.py`` lets GetDentryOpenInfo open files in the office server.
"""
