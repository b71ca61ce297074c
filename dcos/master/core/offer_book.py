"""`OfferBook`: the master's outstanding offers, their ids and their expiry times.

Owned by `MasterCore` (one book); the core's offer code adds offers as it makes them,
takes them out when they are accepted, declined or rescinded, and asks `expired(now)` from
`tick` when an offer timeout is configured. Linking an offer to its framework and agent
stays with the core (`CoreBase._add_offer` / `_remove_offer`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from dcos.master.core.model import Offer
from dcos.protocol.ids import MasterID, OfferID


class OfferBook:
    def __init__(self, master_id: MasterID) -> None:
        self._master_id = master_id
        self._offers: dict[OfferID, Offer] = {}
        self._expiry: list[tuple[float, OfferID]] = []
        self._seq = 0

    def next_id(self) -> OfferID:
        """A new offer id, unique for this master (``<master id>-O<n>``)."""
        self._seq += 1
        return OfferID(f"{self._master_id}-O{self._seq}")

    def add(self, offer: Offer) -> None:
        self._offers[offer.id] = offer
        if offer.expires is not None:
            heapq.heappush(self._expiry, (offer.expires, offer.id))

    def pop(self, offer_id: OfferID) -> Offer | None:
        return self._offers.pop(offer_id, None)

    def get(self, offer_id: OfferID) -> Offer | None:
        return self._offers.get(offer_id)

    def expired(self, now: float) -> list[Offer]:
        """Outstanding offers whose timeout passed by `now` (they stay in the book; the
        caller rescinds them)."""
        out: list[Offer] = []
        while self._expiry and self._expiry[0][0] <= now:
            _, oid = heapq.heappop(self._expiry)
            offer = self._offers.get(oid)
            if offer is not None:
                out.append(offer)
        return out

    def __len__(self) -> int:
        return len(self._offers)

    def __contains__(self, offer_id: object) -> bool:
        return offer_id in self._offers

    def __getitem__(self, offer_id: OfferID) -> Offer:
        return self._offers[offer_id]

    def __iter__(self) -> Iterator[OfferID]:
        return iter(self._offers)

    def values(self) -> Iterator[Offer]:
        return iter(self._offers.values())
