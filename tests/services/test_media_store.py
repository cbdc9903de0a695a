import pytest

from app.services import media_store


def test_save_read_delete_round_trip(tmp_path):
    key = media_store.save(b"abc", company_id=7, extension="JPG", upload_folder=str(tmp_path))
    assert key.startswith("media/7/") and key.endswith(".jpg")
    assert media_store.read(key, upload_folder=str(tmp_path)) == b"abc"
    assert media_store.exists(key, upload_folder=str(tmp_path))
    media_store.delete(key, upload_folder=str(tmp_path))
    assert not media_store.exists(key, upload_folder=str(tmp_path))
    media_store.delete(key, upload_folder=str(tmp_path))  # already gone: nothing


def test_keys_are_unguessable_and_distinct(tmp_path):
    keys = {media_store.new_key(company_id=1, extension="png") for _ in range(50)}
    assert len(keys) == 50


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "media/../../etc/passwd", "photos/x.jpg", "media/1/../../../secret"],
)
def test_a_key_outside_the_media_root_is_refused(tmp_path, key):
    with pytest.raises(media_store.BadMediaKey):
        media_store.path_of(key, upload_folder=str(tmp_path))
    assert not media_store.exists(key, upload_folder=str(tmp_path))


def test_a_strange_extension_is_cleaned(tmp_path):
    key = media_store.new_key(company_id=1, extension="../x/.sh")
    assert key.endswith(".xsh")


def test_a_named_key_is_stable_and_a_second_save_overwrites(tmp_path):
    folder = str(tmp_path)
    first = media_store.save(
        b"one", company_id=3, extension="wav", name="RE12/../ab", upload_folder=folder
    )
    second = media_store.save(
        b"two", company_id=3, extension="wav", name="RE12/../ab", upload_folder=folder
    )
    assert first == second == "media/3/named/RE12ab.wav"
    assert media_store.read(first, upload_folder=folder) == b"two"
    assert [p.name for p in media_store.path_of(first, upload_folder=folder).parent.iterdir()] == [
        "RE12ab.wav"
    ]  # no partial file left behind
