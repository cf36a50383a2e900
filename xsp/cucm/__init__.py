"""The Cisco Unified CM node: its configuration pages, TFTP/HTTP file service, CTL/ITL and CAPF."""
