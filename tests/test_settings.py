import pytest

from backend.settings import BOUNDS, CHOICES, Settings, SettingsError, variables


def test_defaults_are_valid_and_survive_a_round_trip_through_the_environment():
    settings = Settings.from_env({})
    assert settings == Settings()
    custom = Settings.from_env({"TRAIN_STEPS": "7", "CYBORG_ALPHA": "0.3", "SUPERPIXEL_SIZE": "96", "ALLOWED_IMAGE_HOSTS": "A.org, b.org",
                                "CAM_METHOD": "gradcam", "LABEL_STUDIO_API_KEY": "k", "TRAIN_PSEUDO_OBJECTS": "off"})
    assert custom.train.steps == 7 and custom.train.cyborg_alpha == 0.3 and custom.superpixels.work_size == 96
    assert settings.train.pseudo_objects and not custom.train.pseudo_objects  # on by default (TRAIN_LOSS=auto's)
    assert custom.allowed_image_hosts == ("a.org", "b.org")
    assert custom.train.cam_method == "gradcam"  # the training run uses the attention method predictions use
    assert Settings.from_env(custom.to_env()) == custom
    assert custom.updated(train_steps=9).train.steps == 9 and custom.updated(train_steps=9).train.cyborg_alpha == 0.3


@pytest.mark.parametrize("variable", sorted(CHOICES))
def test_every_enumerated_setting_refuses_unknown_values_by_name(variable):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: "no-such-value"})
    for allowed in CHOICES[variable]:
        Settings.from_env({variable: allowed})


@pytest.mark.parametrize("variable", sorted(BOUNDS))
def test_every_number_is_checked_against_its_bounds_by_name(variable):
    low, high = BOUNDS[variable]
    kind = variables()[variable][2]
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: str(kind(low) - 1)})
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: str(kind(high) + 1)})
    for endless in ("inf", "nan", "1e400"):  # an unbounded run or request is a bound missing
        with pytest.raises(SettingsError, match=variable):
            Settings.from_env({variable: endless})
    with pytest.raises(SettingsError, match=f"{variable} must be"):
        Settings.from_env({variable: "lots"})


def test_every_number_has_bounds():
    numbers = {name for name, (_, _, kind) in variables().items() if kind in (int, float)}
    assert numbers == set(BOUNDS)


@pytest.mark.parametrize("env, variable", [
    ({"BASIC_AUTH_PASS": "secret"}, "BASIC_AUTH_USER and BASIC_AUTH_PASS"),
    ({"BASIC_AUTH_USER": "ann"}, "BASIC_AUTH_USER and BASIC_AUTH_PASS"),
    ({"DEVICE": "gpu"}, "DEVICE"),
    ({"LABEL_STUDIO_URL": "ftp://host"}, "LABEL_STUDIO_URL"),
    ({"LABEL_STUDIO_URL": "http://"}, "LABEL_STUDIO_URL"),
    ({"LABEL_STUDIO_URL": "http://user:pw@ls.example.org"}, "LABEL_STUDIO_URL"),
    ({"LABEL_STUDIO_URL": "http://[::1"}, "LABEL_STUDIO_URL"),
    ({"PUBLIC_URL": "javascript:alert(1)"}, "PUBLIC_URL"),
    ({"PUBLIC_URL": "https://ml.example.org/?token=x"}, "PUBLIC_URL"),
    ({"PUBLIC_URL": "https://user:pw@ml.example.org"}, "PUBLIC_URL"),
    ({"ALLOWED_IMAGE_HOSTS": "img.example.org,10.0.0.7"}, "ALLOWED_IMAGE_HOSTS"),
    ({"ALLOWED_IMAGE_HOSTS": "127.0.0.1"}, "ALLOWED_IMAGE_HOSTS"),
    ({"ALLOWED_IMAGE_HOSTS": "64:ff9b::a00:1"}, "ALLOWED_IMAGE_HOSTS"),
    ({"ALLOWED_IMAGE_HOSTS": "evil.org/path"}, "ALLOWED_IMAGE_HOSTS"),
    ({"BASIC_AUTH_USER": "  ", "BASIC_AUTH_PASS": "secret"}, "BASIC_AUTH_USER"),
    ({"BASIC_AUTH_USER": "ann", "BASIC_AUTH_PASS": " \t "}, "BASIC_AUTH_PASS"),
    ({"SAL_CHANGE_POINT": "soon"}, "SAL_CHANGE_POINT"),
    ({"TRAIN_LAUNCHER": "torchrun 'unclosed"}, "TRAIN_LAUNCHER"),
])
def test_other_checks_name_the_variable(env, variable):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(env)


def test_unknown_overrides_are_refused():
    with pytest.raises(SettingsError, match="train_stpes"):
        Settings.from_env({}, train_stpes=3)
    assert Settings.from_env({}, device="cuda:1", basic_auth_user="a", basic_auth_pass="b").device == "cuda:1"


def test_switches_read_the_usual_words_and_refuse_others_by_name():
    assert Settings.from_env({"PREFILL_CLASS": "Yes"}).prefill_class is True
    assert Settings.from_env({"PREFILL_CLASS": "0"}).prefill_class is False
    assert Settings.from_env(Settings(prefill_class=True).to_env()).prefill_class is True
    with pytest.raises(SettingsError, match="PREFILL_CLASS"):
        Settings.from_env({"PREFILL_CLASS": "maybe"})


def test_label_roles_come_from_comma_separated_names():
    roles = Settings.from_env({"FOCUS_LABELS": "Objet, Objekt", "IGNORE_LABELS": "fond", "OBJECT_LABELS": "sujet"}).label_roles
    assert roles.focus == ("objet", "objekt") and roles.ignore == ("fond",) and roles.object == ("sujet",)
