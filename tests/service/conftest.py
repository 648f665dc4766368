import pytest


@pytest.fixture
def env(biased_project):
    """(data, settings, config XML) of a project served by the biased small CNN (project id 8 in these tests)."""
    return biased_project
