"""The poster: a booked Rackbeat document into the books, exactly once (customer and supplier invoices).

It fills in the synchronizer's steps for documents, which are posted, never replaced or barred:

- `unchanged`: the binding says the document is posted (as a draft, or booked when booking is wanted)
  and its fingerprint is the one posted: nothing is sent. A document booked (or a draft nothing would book)
  is found so before its dependencies or related records are looked at: a repeated delivery costs the read
  of the document only. A different fingerprint means the Rackbeat
  document changed after posting: `PostedDocumentChanged`, dead-lettered, never posted again.
- `write`, the exactly-once protocol:
  1. A claim is written BEFORE the draft is sent (`tasks.sync.claims`); the POST carries an
     Idempotency-Key derived from the document and the claim's generation, so a retry within e-conomic's
     replay hour gets the first answer back.
  2. An attempt that finds a claim but no binding does not know whether the earlier POST happened (the
     answer was lost, the worker was killed): it looks for the document by the reference it carries and
     adopts what it finds. Where e-conomic holds it is the channel's business (`tasks.sync.channels`:
     a priced draft invoice, or a journal voucher of our own amounts).
  3. An invoice's pricing is compared with Rackbeat's total to the øre before the draft is bound (so a bound
     draft is a right one). On a difference the draft is deleted, the claim's generation raised, and
     `TotalsDiffer` names both; a delete that did not get through leaves the draft unbound, and the next
     attempt finds it by its reference, checks it again and takes it back.
  4. When booking is wanted (by the settings: customer invoices unless an EAN invoice is kept a draft;
     supplier vouchers when auto-booking is on), the document is booked; an invoice under Rackbeat's number
     where e-conomic takes it, else under e-conomic's next number. A booking whose answer was lost is
     found the same way: the unbooked document is gone and a booked one carries the reference.
  5. A bound unbooked document that is gone from e-conomic and booked under nothing with our reference
     was deleted by someone there: it is not recreated behind their back (`PostedDocumentChanged`).
  6. A document that takes attachments (a supplier invoice's PDF) gets it after it is bound and before it
     is booked; the claim's stage moves to `attached` once that is done, so an attempt that finds the
     document bound but still at the post's stage (the one that posted it died in between) attaches it.
- `retire`: a posted document is never deleted; a Rackbeat document gone before posting is ignored.

Dependencies (customer, payment terms, the items of the lines) are master data. A document needs only
their e-conomic keys: one that a transfer already brought across is referred to by its binding's key,
unread (its own changes come across by its webhook and the change poll); one not yet bound is exported
by an `Exporter` first, under its own lock, as any export would. The records a mapping reads (the
customer's EAN, a supplier's VAT zone, a product's group) are read at posting only when the document does
not carry the fact itself (`ReadWhenAsked`), and not watched: a later change to the customer must not
touch a posted invoice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from clients.errors import NotFoundError, ValidationFailed
from clients.http import ResponseTooLarge
from tasks.entities.base import EntitySpec, MappingContext, MappingDefaults, PostingRules, Record, RecordRef
from tasks.errors import AttachmentTooLarge, MappingError, PostedDocumentChanged, TotalsDiffer
from tasks.settings import Settings
from tasks.sync.bindings import Binding
from tasks.sync.channels import CHANNELS, Channel, Found
from tasks.sync.claims import PostingClaims
from tasks.sync.dependencies import resolve_dependencies
from tasks.sync.direction import Directions
from tasks.sync.exporter import Exporter
from tasks.sync.ports import ApiClients, SyncStore
from tasks.sync.refs import payload_hash
from tasks.sync.related import ReadWhenAsked
from tasks.sync.results import TransferResult
from tasks.sync.sources import current_rackbeat
from tasks.sync.synchronizer import Synchronizer, Target, Written
from tasks.sync.validation import validate_payload

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ATTACHED = "attached"
"""The claim's stage once a document's attachment is on it (or it has none to take)."""
ATTACHMENT_LIMIT_BYTES = 5 * 1024 * 1024
"""Rackbeat sends a user's PDF along when it is at most 5 MB (rackbeat-api.md 4.5)."""


@dataclass(frozen=True)
class PostingPolicy:
    """What the settings decide about posting (rackbeat-api.md 4.4 and 4.9)."""

    book: bool = False
    book_with_source_number: bool = True
    never_book_electronic: bool = False
    book_vouchers: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PostingPolicy:
        return cls(
            book=settings.customer_invoices_booked,
            book_with_source_number=settings.customer_invoices_book_with_rackbeat_number,
            never_book_electronic=settings.never_book_ean_invoices,
            book_vouchers=settings.supplier_invoices_auto_book,
        )


@dataclass
class Posting(Target):
    """The target of a document: the binding's key plus the facts of the source the protocol needs."""

    reference: str = ""
    fingerprint: str = ""
    gross_total: Decimal = Decimal(0)
    number: int | None = None
    book: bool = False
    channel: Channel | None = None


def document_key(connection_id: str, kind: str, key: str, step: str, generation: int) -> str:
    """The Idempotency-Key of one step of posting one document: the same for every retry of that step."""
    material = "\x1f".join((connection_id, kind, key, step, str(generation))).encode("utf-8")
    return hashlib.sha256(material).hexdigest()


class Poster(Synchronizer):
    """Rackbeat document -> e-conomic accounting document, exactly once."""

    target_api = "economic"

    def __init__(
        self,
        clients: ApiClients,
        store: SyncStore,
        defaults: MappingDefaults | None = None,
        directions: Directions | None = None,
        policy: PostingPolicy | None = None,
    ) -> None:
        super().__init__(clients, store, defaults, directions)
        self.policy = policy if policy is not None else PostingPolicy()
        self.claims = PostingClaims(store.bindings.client, store.connection_id)
        self._electronic = False  # set by map() for the document being posted, read by target()

    @staticmethod
    def rules(spec: EntitySpec) -> PostingRules:
        if spec.posting is None:
            raise LookupError(f"{spec.kind} is not a posted document")
        return spec.posting

    def moves(self, spec: EntitySpec) -> bool:
        exported = self.directions is None or self.directions.exports(spec.kind)
        return spec.posting is not None and spec.exports is not None and exported

    def target_resource(self, spec: EntitySpec) -> str:
        return spec.economic.resource

    def read(self, spec: EntitySpec, key: str) -> Record | None:
        return current_rackbeat(spec, key, self.clients.rackbeat)

    def ready(self, spec: EntitySpec, source: Record) -> bool:
        return self.rules(spec).ready(source)

    def retire(self, spec: EntitySpec, key: str) -> TransferResult:
        binding = self.store.bindings.get(spec.kind, key)
        where = f"e-conomic {binding.economic_resource} {binding.economic_key!r}" if binding else "nowhere"
        logger.info(
            "%s %r is gone from Rackbeat; posted %s, never deleted from the books", spec.kind, key, where
        )
        return TransferResult(spec.kind, key, "ignored", binding.economic_key if binding else None)

    def bring_across(
        self, spec: EntitySpec, key: str, source: Record, chain: tuple[RecordRef, ...]
    ) -> TransferResult:
        """A document whose binding says it is posted as far as it will go, from this very source, is
        `unchanged` before anything else is read: its dependencies and related records cannot change it."""
        binding = self.store.bindings.get(spec.kind, key)
        if binding is not None and self._final(spec, key, source, binding):
            return TransferResult(spec.kind, key, "unchanged", binding.economic_key)
        return super().bring_across(spec, key, source, chain)

    def _final(self, spec: EntitySpec, key: str, source: Record, binding: Binding) -> bool:
        """Posted from this fingerprint, and booked, or left unbooked where nothing could book it (booking
        off for the kind; an invoice kept a draft only for its EAN customer takes the whole way, which
        reads the customer)."""
        rules = self.rules(spec)
        if binding.hash != payload_hash(rules.fingerprint(source)):
            return False  # changed after posting: the whole way, which refuses it
        channel = CHANNELS[rules.channel]
        if binding.economic_resource == channel.booked:
            return True
        may_book = self.policy.book_vouchers if rules.channel == "voucher" else self.policy.book
        return (
            binding.economic_resource == channel.posted
            and not may_book
            and not self._attachment_pending(spec, key)
        )

    def resolve(
        self, spec: EntitySpec, key: str, source: Record, chain: tuple[RecordRef, ...]
    ) -> tuple[list[TransferResult], MappingContext]:
        exporter = Exporter(self.clients, self.store, self.defaults, self.directions)
        # A document needs only the e-conomic keys of what it refers to: one already brought across is
        # taken from its binding; one that is not is exported first.
        dependencies, refs = resolve_dependencies(
            spec, source, self.store, self.defaults, exporter.transfer, chain, settled=True
        )
        # read when the mapper asks (for what the document does not carry itself), once, and not watched:
        # a later change to them must not touch a posted document
        related = ReadWhenAsked(spec.export_rules.related_refs(source), self.clients.rackbeat)
        return dependencies, MappingContext(refs=refs, related=related, defaults=self.defaults)

    def map(self, spec: EntitySpec, source: Record, context: MappingContext) -> dict[str, Any]:
        document = spec.export_rules.to_economic(source, context)
        self._electronic = self.rules(spec).electronic(source, context)
        return document

    def target(self, spec: EntitySpec, key: str, source: Record, document: dict[str, Any]) -> Target:
        rules = self.rules(spec)
        binding = self.store.bindings.get(spec.kind, key)
        if rules.channel == "voucher":
            book = self.policy.book_vouchers
        else:
            book = self.policy.book and not (self.policy.never_book_electronic and self._electronic)
        return Posting(
            key=binding.economic_key if binding else None,
            binding=binding,
            reference=rules.reference(source),
            fingerprint=payload_hash(rules.fingerprint(source)),
            gross_total=Decimal(str(rules.gross_total(source))).quantize(CENT),
            number=rules.number(source) if self.policy.book_with_source_number else None,
            book=book,
            channel=CHANNELS[rules.channel](self.clients.economic),
        )

    def validate(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> None:
        validate_payload(spec.economic, document)
        project = (document.get("project") or {}).get("projectNumber")
        if project is not None and target.binding is None and not self._project_exists(project):
            raise MappingError(
                "project",
                f"e-conomic has no project {project} (projects come from e-conomic; is it copied to Rackbeat "
                "under another number, or was it deleted?)",
                api="economic",
                resource=spec.economic.resource,
            )

    def _project_exists(self, number: int) -> bool:
        try:
            self.clients.economic.get_item("projects", number)
        except NotFoundError:
            return False
        return True

    def unchanged(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> bool:
        posting = _posting(target)
        binding = posting.binding
        if binding is None:
            return False
        if binding.hash != posting.fingerprint:
            raise PostedDocumentChanged(
                f"Rackbeat {spec.kind.replace('_', ' ')} {key} changed after it was posted as e-conomic "
                f"{binding.economic_resource} {binding.economic_key!r}; the books are not changed behind the "
                "accountant's back",
                api="economic",
                resource=binding.economic_resource or spec.economic.resource,
            )
        if binding.economic_resource == _channel(posting).booked:
            return True
        if self._attachment_pending(spec, key):
            return False  # posted, but the attempt that posted it ended before its attachment was seen to
        return not posting.book

    def write(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> Written:
        posting = _posting(target)
        binding = posting.binding
        if binding is None:
            posted = self._post(spec, key, document, posting)
            if posted.resource == _channel(posting).booked:
                return Written(posted.key, True)
            unbooked, created = posted.key, True
        else:
            unbooked, created = binding.economic_key, False
        if self._attachment_pending(spec, key):
            # Before booking (a booked voucher's attachment cannot change), and again by an attempt that
            # finds the voucher bound but not marked attached: the one that posted it may have died between.
            self._attach(spec, key, unbooked, document)
            self.claims.mark(spec.kind, key, ATTACHED)
        if not posting.book:
            return Written(unbooked, created)
        return Written(self._book(spec, key, unbooked, document, posting), True)

    def bind(self, spec: EntitySpec, key: str, document: dict[str, Any], written: Written) -> None:
        """Bound inside `write`, stage by stage: a draft the moment it exists, the booked invoice after."""

    def after(
        self,
        spec: EntitySpec,
        ref: RecordRef,
        source: Record | None,
        result: TransferResult,
        chain: tuple[RecordRef, ...],
    ) -> None:
        """Nothing reads a posted document, so nothing is queued after it."""

    # --- the protocol ------------------------------------------------------------------------------

    def _bind(self, spec: EntitySpec, key: str, economic_key: Any, resource: str, posting: Posting) -> None:
        self.store.bindings.put(
            spec.kind,
            key,
            economic_key=economic_key,
            payload_hash=posting.fingerprint,
            economic_resource=resource,
        )

    def _post(self, spec: EntitySpec, key: str, document: dict[str, Any], posting: Posting) -> Found:
        channel = _channel(posting)
        earlier = self.claims.get(spec.kind, key)
        if earlier is not None and earlier.stage:
            found = channel.find(posting.reference, document)
            if found is not None:
                logger.info(
                    "%s %r: an earlier attempt's outcome was unknown; found e-conomic %s %r by its reference",
                    spec.kind,
                    key,
                    found.resource,
                    found.key,
                )
                if found.resource == channel.posted:
                    self._check(spec, key, found, posting)
                self._bind(spec, key, found.key, found.resource, posting)
                return found
        claim = self.claims.mark(spec.kind, key, "post")
        with self.claims.fresh_key_after_refusal(spec.kind, key):
            posted = channel.post(
                document, document_key(self.store.connection_id, spec.kind, key, "post", claim.generation)
            )
        # Checked before it is bound: a bound draft is one whose total was right. A draft taken back only
        # halfway (the delete failed, the worker died) stays unbound, so the next attempt finds it by its
        # reference, checks it again and takes it back, instead of booking it as bound.
        self._check(spec, key, posted, posting)
        self._bind(spec, key, posted.key, posted.resource, posting)
        return posted

    def _attachment_pending(self, spec: EntitySpec, key: str) -> bool:
        """Whether the kind takes attachments and this document's has not been seen to yet (its claim's
        stage is still the post's: the stage moves on to `attached`, then to `book`)."""
        if not self.rules(spec).attachments:
            return False
        claim = self.claims.get(spec.kind, key)
        return claim is None or claim.stage == "post"

    def _attach(self, spec: EntitySpec, key: str, voucher: Any, document: dict[str, Any]) -> None:
        """The first PDF the user attached in Rackbeat, onto the unbooked voucher, once; a larger file than
        e-conomic is sent gets a dead letter of its own while the voucher goes on without it."""
        files = self.clients.rackbeat.attachments(spec.rackbeat.resource, key)
        pdfs = [f for f in files if f.get("mime_type") == "application/pdf"]
        if not pdfs:
            return
        if len(pdfs) > 1:
            logger.info(
                "%s %r has %d PDFs; e-conomic keeps one per voucher: the first goes along",
                spec.kind,
                key,
                len(pdfs),
            )
        pdf = pdfs[0]
        journal = int(document["journal"]["journalNumber"])
        if self.clients.economic.voucher_attachment(journal, voucher) is not None:
            return  # an earlier attempt attached it
        name = str(pdf.get("filename") or "attachment.pdf")
        size = int(pdf.get("size") or 0)
        content: bytes | None = None
        if size <= ATTACHMENT_LIMIT_BYTES:
            try:
                content = self.clients.rackbeat.download(
                    pdf["download_url"], max_bytes=ATTACHMENT_LIMIT_BYTES
                )
            except ResponseTooLarge as too_large:  # the listing's size was wrong or missing
                size = too_large.size or too_large.limit + 1
        if content is None:
            error = AttachmentTooLarge(
                name, size, ATTACHMENT_LIMIT_BYTES, api="economic", resource="journals/vouchers"
            )
            logger.warning("%s %r: %s; the voucher goes without it", spec.kind, key, error)
            if self.store.dead_letter_part is not None:
                self.store.dead_letter_part(spec.kind, f"{key}:attachment:{pdf.get('id')}", error)
            return
        claim = self.claims.get(spec.kind, key)
        self.clients.economic.attach_voucher_file(
            journal,
            voucher,
            name,
            content,
            idempotency_key=document_key(
                self.store.connection_id, spec.kind, key, "attach", claim.generation if claim else 0
            ),
        )

    def _check(self, spec: EntitySpec, key: str, found: Found, posting: Posting) -> None:
        claim = self.claims.get(spec.kind, key)
        generation = claim.generation if claim else 0
        withdraw_key = document_key(self.store.connection_id, spec.kind, key, "withdraw", generation)
        try:
            _channel(posting).check(found, posting.gross_total, withdraw_key)
        except TotalsDiffer:
            self.claims.withdraw(spec.kind, key)
            self.store.bindings.delete(spec.kind, key)
            raise

    def _book(
        self, spec: EntitySpec, key: str, unbooked: Any, document: dict[str, Any], posting: Posting
    ) -> Any:
        channel = _channel(posting)
        earlier = self.claims.get(spec.kind, key)
        if (
            earlier is not None
            and earlier.stage == "book"
            and not channel.still_unbooked(unbooked, posting.reference, document)
        ):
            found = channel.find(posting.reference, document, booked_only=True)
            if found is None:
                raise PostedDocumentChanged(
                    f"e-conomic {channel.posted} {unbooked!r} of Rackbeat {spec.kind.replace('_', ' ')} "
                    f"{key} is gone and nothing booked carries its reference: deleted in e-conomic, "
                    "not recreated",
                    api="economic",
                    resource=channel.posted,
                )
            self._bind(spec, key, found.key, channel.booked, posting)
            return found.key
        claim = self.claims.mark(spec.kind, key, "book")
        with self.claims.fresh_key_after_refusal(spec.kind, key):
            booked = self._book_once(spec, key, unbooked, document, posting, claim.generation)
        self._bind(spec, key, booked, channel.booked, posting)
        return booked

    def _book_once(
        self,
        spec: EntitySpec,
        key: str,
        unbooked: Any,
        document: dict[str, Any],
        posting: Posting,
        generation: int,
    ) -> Any:
        """Book under Rackbeat's number where e-conomic takes it, else under e-conomic's next number."""
        channel = _channel(posting)
        step = "book-with-number" if posting.number is not None else "book"
        try:
            return channel.book(
                unbooked,
                posting.reference,
                document,
                posting.number,
                document_key(self.store.connection_id, spec.kind, key, step, generation),
            )
        except ValidationFailed as refused:
            if posting.number is None or "bookWithNumber" not in refused.field_errors:
                raise
            logger.info(
                "%s %r: e-conomic does not take number %s (%s); booked under its next number",
                spec.kind,
                key,
                posting.number,
                "; ".join(refused.field_errors["bookWithNumber"]),
            )
            return channel.book(
                unbooked,
                posting.reference,
                document,
                None,
                document_key(self.store.connection_id, spec.kind, key, "book", generation),
            )


def _channel(posting: Posting) -> Channel:
    if posting.channel is None:
        raise TypeError("a posting without its channel")
    return posting.channel


def _posting(target: Target) -> Posting:
    if not isinstance(target, Posting):
        raise TypeError("the poster's steps take the Posting its own target() built")
    return target
