"""Tenants, API keys, connections and credential encryption at rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import Money
from returnbridge.store import connections, refunds, returns, tenants
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.errors import CredentialsUnreadableError, RecordNotFoundError
from returnbridge.store.tables import (
    Connection,
    Refund,
    Return,
    ReturnRevision,
    Tenant,
    TimelineEvent,
)

if TYPE_CHECKING:
    from conftest import SeededTenant


def test_api_key_is_returned_once_and_only_its_hash_is_stored(session: Session) -> None:
    tenant, api_key = tenants.create_tenant(session, "Acme")
    session.commit()

    assert api_key.startswith("rbk_")
    stored = session.scalar(select(Tenant.api_key_hash).where(Tenant.id == tenant.id))
    assert stored == tenants.hash_api_key(api_key)
    assert api_key not in (stored or "")
    found = tenants.tenant_by_api_key(session, api_key)
    assert found is not None
    assert found.id == tenant.id
    assert tenants.tenant_by_api_key(session, api_key + "x") is None
    assert tenants.tenant_by_api_key(session, "") is None


def test_rotated_api_key_replaces_the_old_one(session: Session) -> None:
    tenant, old_key = tenants.create_tenant(session, "Acme")
    rotated_tenant, new_key = tenants.rotate_api_key(session, tenant.id)
    session.commit()

    assert rotated_tenant.id == tenant.id
    assert new_key != old_key

    assert tenants.tenant_by_api_key(session, old_key) is None
    rotated = tenants.tenant_by_api_key(session, new_key)
    assert rotated is not None
    assert rotated.id == tenant.id


def test_revoked_api_key_stops_working_until_a_new_one_is_rotated_in(session: Session) -> None:
    tenant, old_key = tenants.create_tenant(session, "Acme")
    revoked = tenants.revoke_api_key(session, tenant.id)
    session.commit()

    assert revoked.id == tenant.id
    assert tenants.is_revoked(revoked)
    assert tenants.tenant_by_api_key(session, old_key) is None
    assert tenants.tenant_by_api_key(session, revoked.api_key_hash) is None
    _, new_key = tenants.rotate_api_key(session, tenant.id)
    session.commit()
    found = tenants.tenant_by_api_key(session, new_key)
    assert found is not None
    assert not tenants.is_revoked(found)


def test_two_revoked_tenants_do_not_collide_on_the_unique_key_hash(session: Session) -> None:
    first, _ = tenants.create_tenant(session, "Acme")
    second, _ = tenants.create_tenant(session, "Globex")
    tenants.revoke_api_key(session, first.id)
    tenants.revoke_api_key(session, second.id)
    session.commit()


def test_key_changes_of_an_unknown_tenant_are_not_found(session: Session) -> None:
    with pytest.raises(RecordNotFoundError):
        tenants.rotate_api_key(session, "ten_missing")
    with pytest.raises(RecordNotFoundError):
        tenants.revoke_api_key(session, "ten_missing")
    with pytest.raises(RecordNotFoundError):
        tenants.delete_tenant(session, "ten_missing")


def test_deleting_a_tenant_removes_all_its_rows_and_no_others(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    acme, globex = seed_tenant("Acme"), seed_tenant("Globex")
    for seeded in (acme, globex):
        stored = returns.ingest_return(
            session,
            seeded.tenant_id,
            connection_id=seeded.connection_id,
            channel="api",
            source="api",
            external_id="RMA-1",
            revision=1,
            idempotency_key="RMA-1",
            payload={"lines": []},
        )
        refunds.begin_refund(
            session,
            seeded.tenant_id,
            return_id=stored.record.id,
            connection_id=seeded.connection_id,
            idempotency_key=f"rb-{stored.record.id}-1-1",
            order_id="gid://shopify/Order/1",
            amount=Money(100, "USD"),
            plan={},
        )
    session.commit()

    tenants.delete_tenant(session, acme.tenant_id)
    session.commit()

    for table in (Tenant, Connection, Return, ReturnRevision, TimelineEvent, Refund):
        owners = set(session.scalars(select(table.id if table is Tenant else table.tenant_id)))
        assert owners == {globex.tenant_id}, table.__tablename__
    assert tenants.tenant_by_api_key(session, acme.api_key) is None


def test_credentials_are_encrypted_at_rest_and_decrypted_on_request(
    session: Session, seed_tenant: Callable[[str], SeededTenant], cipher: CredentialCipher
) -> None:
    seeded = seed_tenant("Acme")
    raw = session.execute(
        text("SELECT credentials_encrypted FROM connections WHERE id = :id"),
        {"id": seeded.connection_id},
    ).scalar_one()

    assert "shpat_acme_secret" not in raw
    assert "access_token" not in raw
    connection = connections.get_connection(
        session, seeded.connection_id, tenant_id=seeded.tenant_id
    )
    assert "secret" not in repr(connection)
    assert connections.connection_credentials(connection, cipher=cipher) == {
        "access_token": "shpat_acme_secret"
    }


def test_wrong_key_cannot_read_credentials_and_says_so(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    connection = connections.get_connection(
        session, seeded.connection_id, tenant_id=seeded.tenant_id
    )
    other = CredentialCipher(CredentialCipher.generate_key())
    with pytest.raises(CredentialsUnreadableError, match="secret key differs") as raised:
        connections.connection_credentials(connection, cipher=other)
    assert "shpat" not in str(raised.value)


def test_key_rotation_reads_old_tokens_and_rewrites_them() -> None:
    old_key, new_key = CredentialCipher.generate_key(), CredentialCipher.generate_key()
    old_key_cipher = CredentialCipher(old_key)
    token = old_key_cipher.encrypt({"api_key": "k-123"})
    rotating = CredentialCipher(new_key, previous_keys=[old_key])

    assert rotating.decrypt(token) == {"api_key": "k-123"}
    rewritten = rotating.rotate(token)
    assert CredentialCipher(new_key).decrypt(rewritten) == {"api_key": "k-123"}
    with pytest.raises(CredentialsUnreadableError):
        old_key_cipher.decrypt(rewritten)


def test_cipher_never_shows_its_key() -> None:
    key = CredentialCipher.generate_key()
    cipher = CredentialCipher(key)
    assert key not in repr(cipher)
    assert key not in str(cipher)
    with pytest.raises(CredentialsUnreadableError) as raised:
        CredentialCipher("not-a-fernet-key")
    assert "not-a-fernet-key" not in str(raised.value)


def test_connections_are_scoped_to_their_tenant(
    session: Session, seed_tenant: Callable[[str], SeededTenant], cipher: CredentialCipher
) -> None:
    acme, globex = seed_tenant("Acme"), seed_tenant("Globex")
    loop = connections.create_connection(
        session,
        acme.tenant_id,
        platform="loop",
        name="loop",
        base_url="https://api.loopreturns.com",
        credentials={"api_key": "x"},
        cipher=cipher,
        settings={"notify": True},
    )
    session.commit()

    with pytest.raises(RecordNotFoundError):
        connections.get_connection(session, globex.connection_id, tenant_id=acme.tenant_id)
    assert [c.id for c in connections.list_connections(session, acme.tenant_id)] == [
        acme.connection_id,
        loop.id,
    ]
    assert [
        c.id for c in connections.list_connections(session, acme.tenant_id, platform="loop")
    ] == [loop.id]
    assert [c.id for c in connections.list_connections(session, globex.tenant_id)] == [
        globex.connection_id
    ]


def test_connection_names_are_unique_per_tenant(
    session: Session, seed_tenant: Callable[[str], SeededTenant], cipher: CredentialCipher
) -> None:
    acme = seed_tenant("Acme")
    seed_tenant("Globex")  # also has a connection named "main": allowed
    with pytest.raises(IntegrityError):
        connections.create_connection(
            session,
            acme.tenant_id,
            platform="shopify",
            name="main",
            base_url="https://other.myshopify.com",
            credentials={},
            cipher=cipher,
        )


def test_unknown_platform_is_rejected(session: Session, cipher: CredentialCipher) -> None:
    tenant, _ = tenants.create_tenant(session, "Acme")
    with pytest.raises(DomainError) as raised:
        connections.create_connection(
            session,
            tenant.id,
            platform="magento",
            name="m",
            base_url="https://m.example",
            credentials={},
            cipher=cipher,
        )
    assert raised.value.field == "platform"


def test_update_connection_re_encrypts_new_credentials(
    session: Session, seed_tenant: Callable[[str], SeededTenant], cipher: CredentialCipher
) -> None:
    seeded = seed_tenant("Acme")
    connections.update_connection(
        session,
        seeded.connection_id,
        tenant_id=seeded.tenant_id,
        cipher=cipher,
        credentials={"access_token": "shpat_new"},
        settings={"restock_location_id": "gid://shopify/Location/1"},
    )
    session.commit()
    session.expunge_all()

    connection = connections.get_connection(
        session, seeded.connection_id, tenant_id=seeded.tenant_id
    )
    assert connection.settings == {"restock_location_id": "gid://shopify/Location/1"}
    assert "shpat_new" not in connection.credentials_encrypted
    assert connections.connection_credentials(connection, cipher=cipher) == {
        "access_token": "shpat_new"
    }
