"""The admin: lines that prepare a CUCM node for a secure CTI application, as a partner types
them: mixed mode, a phone, a secure application user in the CTI groups controlling the
phone with a CAPF profile pending, and a non-secure one. ``xsp demo --cucm`` runs them;
``xsp.testing.RunningCucm`` configures its node with them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecureCtiSetup:
    secure_user: str = "jtapisecure"
    plain_user: str = "jtapiplain"
    password: str = "Jtapi-Pass1"
    instance_id: str = "jtapi1"
    auth_string: str = "123456"
    phone: str = "SEP001794625DE5"

    def lines(self) -> list[tuple[str, str]]:
        """(section, line) pairs; a line after ``utils ctl set-cluster`` answers its question."""
        steps = [("Mixed mode (the CTL is written)", "utils ctl set-cluster mixed-mode"),
                 ("", "y"),
                 ("A phone, and the CTI users that control it", f"ccmadmin Phone add {self.phone}")]
        for user in (self.secure_user, self.plain_user):
            steps += [("", f"ccmadmin ApplicationUser add {user} password {self.password}"),
                      ("", f'ccmadmin AccessControlGroup addAppUsers "Standard CTI Enabled" {user}'),
                      ("", f"ccmadmin ApplicationUser addDevice {user} {self.phone}")]
        steps += [("The secure user: Standard CTI Secure Connection and a CAPF profile",
                   f'ccmadmin AccessControlGroup addAppUsers "Standard CTI Secure Connection" {self.secure_user}'),
                  ("", f"ccmadmin ApplicationUserCapfProfile add {self.instance_id} applicationUser "
                       f"{self.secure_user} certificateOperation Install/Upgrade authenticationString "
                       f"{self.auth_string}")]
        return steps
