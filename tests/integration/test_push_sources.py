"""Push sources in the store, on SQLite and PostgreSQL: secret lifetimes and used delivery ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from returnbridge.domain.errors import DomainError
from returnbridge.mappings import MappingSpecError
from returnbridge.store import push_sources
from returnbridge.store.clock import SteppingClock
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.errors import CredentialsUnreadableError, RecordNotFoundError
from returnbridge.store.ids import SequentialIds
from returnbridge.store.tables import Source

if TYPE_CHECKING:
    from conftest import SeededTenant

OLD, NEW, NEWER = "whsec_b2xkLXNlY3JldC0xMjM0NTY3ODkw", "whsec_bmV3LXNlY3JldA==", "whsec_bmV3ZXI="


@pytest.fixture
def held_clock(clock: SteppingClock) -> SteppingClock:
    """The suite's start instant, moving only when the test says."""
    return SteppingClock(clock(), step=timedelta(0))


@pytest.fixture
def source_id(
    session_maker: sessionmaker[Session],
    seed_tenant: Callable[[str], SeededTenant],
    cipher: CredentialCipher,
    ids: SequentialIds,
    held_clock: SteppingClock,
) -> tuple[str, str]:
    """A push source of a seeded tenant with secret OLD: (tenant id, source id)."""
    tenant = seed_tenant("Acme")
    with session_maker.begin() as session:
        source = push_sources.create_push_source(
            session,
            tenant.tenant_id,
            name="helpdesk",
            connection_id=tenant.connection_id,
            secret=OLD,
            cipher=cipher,
            ids=ids,
            clock=held_clock,
        )
        return tenant.tenant_id, source.id


def active(
    session_maker: sessionmaker[Session], source_id: str, cipher: CredentialCipher, at: datetime
) -> list[str]:
    with session_maker() as session:
        source = push_sources.get_push_source(session, source_id, tenant_id=None)
        return push_sources.active_secrets(source, cipher=cipher, at=at)


def rotate(
    session_maker: sessionmaker[Session],
    ids: tuple[str, str],
    secret: str,
    *,
    cipher: CredentialCipher,
    clock: SteppingClock,
    overlap: timedelta,
) -> None:
    tenant_id, source_id = ids
    with session_maker.begin() as session:
        push_sources.rotate_secret(
            session,
            source_id,
            tenant_id=tenant_id,
            secret=secret,
            cipher=cipher,
            overlap=overlap,
            clock=clock,
        )


def test_secrets_are_encrypted_at_rest(
    session_maker: sessionmaker[Session], source_id: tuple[str, str]
) -> None:
    with session_maker() as session:
        stored = session.scalar(select(Source.secrets_encrypted).where(Source.id == source_id[1]))
    assert stored
    assert OLD not in stored
    assert OLD.removeprefix("whsec_") not in stored


def test_a_rotation_keeps_both_secrets_until_the_overlap_ends(
    session_maker: sessionmaker[Session],
    source_id: tuple[str, str],
    cipher: CredentialCipher,
    held_clock: SteppingClock,
) -> None:
    start = held_clock()
    rotate(
        session_maker, source_id, NEW, cipher=cipher, clock=held_clock, overlap=timedelta(hours=2)
    )

    during = active(session_maker, source_id[1], cipher, start + timedelta(hours=2, seconds=-1))
    after = active(session_maker, source_id[1], cipher, start + timedelta(hours=2))

    assert during == [OLD, NEW]
    assert after == [NEW]


def test_a_second_rotation_never_extends_an_older_secret(
    session_maker: sessionmaker[Session],
    source_id: tuple[str, str],
    cipher: CredentialCipher,
    held_clock: SteppingClock,
) -> None:
    start = held_clock()
    rotate(
        session_maker, source_id, NEW, cipher=cipher, clock=held_clock, overlap=timedelta(hours=1)
    )
    held_clock.advance(timedelta(minutes=30))
    rotate(
        session_maker,
        source_id,
        NEWER,
        cipher=cipher,
        clock=held_clock,
        overlap=timedelta(hours=24),
    )

    with session_maker() as session:
        source = push_sources.get_push_source(session, source_id[1], tenant_id=source_id[0])
        lives = {
            s.secret: s.expires_at for s in push_sources.signing_secrets(source, cipher=cipher)
        }

    assert lives == {
        OLD: start + timedelta(hours=1),
        NEW: start + timedelta(minutes=30, hours=24),
        NEWER: None,
    }


def test_a_rotation_drops_secrets_already_expired(
    session_maker: sessionmaker[Session],
    source_id: tuple[str, str],
    cipher: CredentialCipher,
    held_clock: SteppingClock,
) -> None:
    rotate(session_maker, source_id, NEW, cipher=cipher, clock=held_clock, overlap=timedelta(0))
    held_clock.advance(timedelta(seconds=1))
    rotate(session_maker, source_id, NEWER, cipher=cipher, clock=held_clock, overlap=timedelta(0))

    with session_maker() as session:
        source = push_sources.get_push_source(session, source_id[1], tenant_id=None)
        kept = [s.secret for s in push_sources.signing_secrets(source, cipher=cipher)]

    assert kept == [NEW, NEWER]
    assert active(session_maker, source_id[1], cipher, held_clock()) == [NEWER]


def test_a_negative_overlap_is_refused(
    session_maker: sessionmaker[Session],
    source_id: tuple[str, str],
    cipher: CredentialCipher,
    held_clock: SteppingClock,
) -> None:
    with pytest.raises(DomainError, match="negative"):
        rotate(
            session_maker, source_id, NEW, cipher=cipher, clock=held_clock, overlap=timedelta(-1)
        )


def test_another_key_cannot_read_the_secrets(
    session_maker: sessionmaker[Session], source_id: tuple[str, str], held_clock: SteppingClock
) -> None:
    stranger = CredentialCipher(CredentialCipher.generate_key())
    with pytest.raises(CredentialsUnreadableError):
        active(session_maker, source_id[1], stranger, held_clock())


def test_a_delivery_id_is_recorded_once_per_source(
    session_maker: sessionmaker[Session], source_id: tuple[str, str], held_clock: SteppingClock
) -> None:
    tenant_id, source = source_id
    with session_maker.begin() as session:
        first = push_sources.record_delivery(
            session, source, tenant_id=tenant_id, delivery_id="msg_1", return_id="ret_1"
        )
        again = push_sources.record_delivery(
            session, source, tenant_id=tenant_id, delivery_id="msg_1", return_id="ret_2"
        )
        other = push_sources.record_delivery(
            session, source, tenant_id=tenant_id, delivery_id="msg_2", return_id=None
        )
    with session_maker() as session:
        seen = push_sources.find_delivery(session, source, "msg_1")

    assert (first, again, other) == (True, False, True)
    assert seen is not None
    assert seen.return_id == "ret_1"


def test_names_are_unique_per_tenant_and_mappings_are_checked(
    session_maker: sessionmaker[Session],
    source_id: tuple[str, str],
    cipher: CredentialCipher,
    seed_tenant: Callable[[str], SeededTenant],
) -> None:
    tenant_id, _ = source_id
    with session_maker() as session:
        source = push_sources.get_push_source(session, source_id[1], tenant_id=None)
        connection = source.connection_id
    with pytest.raises(DomainError) as taken, session_maker.begin() as session:
        push_sources.create_push_source(
            session, tenant_id, name="helpdesk", connection_id=connection, secret=NEW, cipher=cipher
        )
    with pytest.raises(MappingSpecError, match="not valid YAML"), session_maker.begin() as session:
        push_sources.create_push_source(
            session,
            tenant_id,
            name="mapped",
            connection_id=connection,
            secret=NEW,
            cipher=cipher,
            mapping="fields: [unclosed",
        )
    other = seed_tenant("Globex")
    with pytest.raises(RecordNotFoundError), session_maker.begin() as session:
        push_sources.create_push_source(
            session, other.tenant_id, name="x", connection_id=connection, secret=NEW, cipher=cipher
        )

    assert taken.value.code == "SOURCE_NAME_TAKEN"


def test_old_delivery_ids_can_be_forgotten_once_past_every_window(
    session_maker: sessionmaker[Session], source_id: tuple[str, str], held_clock: SteppingClock
) -> None:
    tenant_id, source = source_id
    start = held_clock()
    with session_maker.begin() as session:
        for n, age in enumerate((timedelta(days=3), timedelta(hours=1))):
            push_sources.record_delivery(
                session,
                source,
                tenant_id=tenant_id,
                delivery_id=f"msg_{n}",
                return_id=None,
                clock=lambda age=age: start - age,
            )
    with session_maker.begin() as session:
        forgotten = push_sources.forget_deliveries(
            session, received_before=start - timedelta(days=2)
        )
    with session_maker() as session:
        left = [push_sources.find_delivery(session, source, f"msg_{n}") for n in (0, 1)]

    assert forgotten == 1
    assert left[0] is None
    assert left[1] is not None


def test_a_secret_never_shows_in_a_repr(
    session_maker: sessionmaker[Session], source_id: tuple[str, str], cipher: CredentialCipher
) -> None:
    with session_maker() as session:
        source = push_sources.get_push_source(session, source_id[1], tenant_id=None)
        secrets = push_sources.signing_secrets(source, cipher=cipher)
    assert OLD not in repr(secrets)
    assert OLD not in repr(source)
