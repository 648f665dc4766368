from backend.storage.project_dir import ProjectDir, project_key


def test_project_keys():
    assert project_key(12) == "12" and project_key("12.1700000000") == "12"
    assert project_key(None) == "default" and project_key("my-project_2") == "my-project_2"


def test_distinct_ids_never_share_a_folder_or_leave_model_dir(tmp_path):
    ids = ["..", "../../x", "a/b", "a_b", "项目", "__", "12.5", "12", "012", ".", "", "x" * 65, "x" * 64, None,
           "default", project_key(".."), "ID-" + project_key("..")[3:]]  # an id that looks like another's folder
    keys = [project_key(i) for i in ids]
    assert len(set(keys)) == len(ids)
    for key in keys:
        assert "/" not in key and not key.startswith(".")
        assert ProjectDir(tmp_path, key).path.parent == tmp_path
        assert ProjectDir.at(tmp_path, key).key == key  # a folder name is its own key (ProjectDir.all, the runner)


def test_a_folder_name_that_could_leave_model_dir_is_refused(tmp_path):
    import pytest

    for name in ("..", ".hidden", "a/b", ""):
        with pytest.raises(ValueError):
            ProjectDir.at(tmp_path, name)


def test_every_file_lives_in_the_projects_folder(tmp_path):
    project = ProjectDir(tmp_path, "7.1700000000")
    assert project.key == "7" and project.path == tmp_path / "7"
    paths = [project.journal, project.journal_lock, project.queue, project.sal_state, project.run_lock, project.pending,
             project.status, project.log, project.score_cache("v0002")]
    assert all(p.parent == project.path or p.parent.parent == project.path for p in paths)
    assert len(set(paths)) == len(paths)
    assert project.models.folder == project.path and project.interpretability_models.folder.parent == project.path


def test_all_lists_project_folders_only(tmp_path):
    for name in ("3", "1", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "file.txt").write_text("x")
    assert [p.key for p in ProjectDir.all(tmp_path)] == ["1", "3"]
    assert ProjectDir.all(tmp_path / "missing") == []
