# ✅ Good - safe to retry
def upsert_user(user_data: dict) -> int:
    return db.insert_or_update(user_data)

# ❌ Avoid - side effects on retry
counter = 0
def increment_counter() -> int:
    global counter
    counter += 1  # Bad! Retries will overccount
    return counter
