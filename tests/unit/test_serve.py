import gc

from service.serve import freeze_startup_objects


def test_startup_objects_are_left_out_of_full_collections() -> None:
    allocated_at_startup: dict[str, list[int]] = {"routes": []}
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 0
        assert not any(o is allocated_at_startup for o in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
    assert any(o is allocated_at_startup for o in gc.get_objects(generation=2))
