"""Who may talk to the daemon's socket, and what to tell those who may not.

The socket is created mode 0660, so the kernel already refuses other users at
connect(). The daemon checks again with the peer's credentials (SO_PEERCRED),
so a socket whose mode was loosened by hand still admits only its owner, root
and members of its group, and so the audit log names the real account behind
every action rather than whatever name a viewer claims.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import socket
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

SOCKET_MODE = 0o660
_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


@dataclass(frozen=True, slots=True)
class Peer:
    pid: int
    uid: int
    gid: int
    groups: frozenset[int]

    @property
    def account(self) -> str:
        return account_name(self.uid)


def is_allowed(peer_uid: int, peer_groups: frozenset[int], owner_uid: int, socket_gid: int) -> bool:
    """Same user as the daemon, root, or a member of the socket's group."""
    return peer_uid in (owner_uid, 0) or socket_gid in peer_groups


def peer_credentials(sock: socket.socket) -> Peer:
    """The connected process's pid, uid, gid and groups (Linux SO_PEERCRED). OSError if unknown."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(pid, uid, gid, peer_groups(pid, uid, gid))


def peer_groups(pid: int, uid: int, gid: int, proc: Path = Path("/proc")) -> frozenset[int]:
    """The groups the peer process runs with: from /proc (what the kernel checks, so a
    user added to a group but not logged in again is not yet a member); from the group
    database when /proc does not show the process (another pid namespace)."""
    groups = {gid}
    try:
        text = (proc / str(pid) / "status").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.startswith("Groups:"):
            groups.update(int(g) for g in line.split()[1:] if g.isdigit())
            return frozenset(groups)
    with contextlib.suppress(KeyError, OSError):
        groups.update(os.getgrouplist(pwd.getpwuid(uid).pw_name, gid))
    return frozenset(groups)


def account_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def audit_user(account: str, claimed: str) -> str:
    """The name recorded for a viewer's action: the verified account, and the name the
    viewer gave when it differs (a shared login used by several people)."""
    claimed = claimed.strip()[:64]
    if not claimed or claimed == account:
        return account
    return f"{account} (as {claimed})"


def access_help(path: Path, user: str | None = None) -> str:
    """A refusal explained: the socket, its owner and group, and how to get access."""
    user = user or account_name(os.getuid())
    try:
        st = os.stat(path)
    except OSError:
        return f"cannot reach the camwatch daemon socket {path}: permission denied on its directory"
    owner, group = account_name(st.st_uid), group_name(st.st_gid)
    mode = stat.S_IMODE(st.st_mode)
    return (
        f"permission denied on the camwatch daemon socket {path} "
        f"(owner {owner}, group {group}, mode {mode:04o}). "
        f"Members of group {group} may attach: ask an administrator to run "
        f"`sudo usermod -aG {group} {user}`, then log out and in again."
    )
