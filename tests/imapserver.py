"""A real IMAP server for the tests: Debian's dovecot, started on a free high port as an
unprivileged user (nobody when the tests run as root), with plain-text logins over loopback and
one Maildir per user under a temporary directory."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    user = {user}
  }}
  unix_listener stats-writer {{
    user = {user}
  }}
}}
"""


def available() -> tuple[bool, str]:
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        return False, "dovecot is not installed (apt-get install dovecot-imapd)"
    return True, ""


class Dovecot:
    def __init__(self, root: Path, port: int, users: dict[str, str]):
        self.root, self.port, self.users = root, port, users
        self.host = "127.0.0.1"

    @classmethod
    def in_temp_dir(cls, port: int, users: dict[str, str]) -> Dovecot:
        # Not under pytest's tmp_path: its parents are private to root, out of nobody's reach.
        return cls(Path(tempfile.mkdtemp(prefix="livefeed-dovecot-")), port, users)

    def start(self) -> Dovecot:
        root = self.root
        if os.getuid() == 0:
            user, group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
            prefix = ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups"]
        else:
            user, group, prefix = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name, []
        root.mkdir(parents=True, exist_ok=True)
        (root / "dovecot.conf").write_text(CONFIG.format(root=root, port=self.port, user=user, group=group))
        (root / "passwd").write_text("".join(f"{name}:{{PLAIN}}{password}\n" for name, password in self.users.items()))
        if prefix:
            subprocess.run(["chown", "-R", f"{user}:{group}", str(root)], check=True)
            os.chmod(root, 0o755)
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        subprocess.run([*prefix, binary, "-c", str(root / "dovecot.conf")], check=True)
        deadline = time.monotonic() + 10
        while True:  # the master forks; wait until logins are served
            try:
                imaplib.IMAP4(self.host, self.port).logout()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("dovecot did not start: " + self.log()) from None
                time.sleep(0.05)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        pid_file = self.root / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message in a user's folder, as the mail server's delivery does (IMAP APPEND)."""
        client = imaplib.IMAP4(self.host, self.port)
        try:
            client.login(user, self.users[user])
            typ, data = client.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def newest_uid(self, user: str, folder: str = "INBOX") -> int:
        client = imaplib.IMAP4(self.host, self.port)
        try:
            client.login(user, self.users[user])
            client.select(folder, readonly=True)
            typ, data = client.uid("search", None, "ALL")
            return max((int(u) for u in data[0].split()), default=0)
        finally:
            client.logout()
