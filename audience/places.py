"""Where a listener is: the country of an address, from the offline database the geoip2fast
package ships (built from MaxMind's GeoLite2 country data, IPv4 and IPv6). Never a look-up
over the network. Private, reserved and unknown addresses are "ZZ"."""

from __future__ import annotations

import threading
from typing import Any

UNKNOWN = "ZZ"
DATA_FILE = "geoip2fast-ipv6.dat.gz"  # the package's file with both address families


class Countries:
    """Loaded on first use (about 0.3 s and 60 MB), once per process."""

    def __init__(self) -> None:
        self._db: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._db is None:
                from geoip2fast import GeoIP2Fast  # heavy: only where countries are wanted

                self._db = GeoIP2Fast(geoip2fast_data_file=DATA_FILE, verbose=False)
            return self._db

    def country(self, address: str) -> str:
        try:
            found = self._load().lookup(address)
        except ValueError:
            return UNKNOWN
        code = str(getattr(found, "country_code", "") or "")
        if len(code) != 2 or not code.isalpha() or getattr(found, "is_private", False):
            return UNKNOWN
        return code.upper()
