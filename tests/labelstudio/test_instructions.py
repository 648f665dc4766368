from backend.labelstudio.instructions import MARK, report_address, with_report_link

ADDRESS = "https://ml.example.org/report?project=7"
OURS = f'<p class="{MARK}">'


def test_the_address_names_the_project_under_the_public_url():
    assert report_address("https://ml.example.org/", 7) == ADDRESS
    assert report_address("http://10.0.0.5:9090/backend", 12) == "http://10.0.0.5:9090/backend/report?project=12"


def test_a_link_is_appended_below_the_managers_instructions():
    text = with_report_link("<p>Click the boat, not the water.</p>", ADDRESS, "v0003")
    assert text.startswith("<p>Click the boat, not the water.</p>\n" + OURS)
    assert f'href="{ADDRESS}"' in text and "model version v0003" in text and text.endswith("</a></p>")
    assert with_report_link(None, ADDRESS, "v0001").startswith(OURS)


def test_the_next_push_replaces_our_paragraph_where_it_stands_and_keeps_the_rest():
    first = with_report_link("<p>Before.</p>", ADDRESS, "v0001")
    edited = first + "\n<p>After, added by the manager.</p>"
    second = with_report_link(edited, ADDRESS, "v0002")
    assert second.count(OURS) == 1 and "v0001" not in second and "v0002" in second
    assert second.index("Before.") < second.index(OURS) < second.index("After, added by the manager.")
    assert with_report_link(second, ADDRESS, "v0002") == second  # a push of the same version changes nothing


def test_copies_of_our_paragraph_collapse_to_one_and_the_managers_paragraphs_stay():
    ours = with_report_link("", ADDRESS, "v0001")
    text = f"<p>a</p>{ours}<p>b</p>{ours}<p class='note'>c</p>"
    updated = with_report_link(text, ADDRESS, "v0002")
    assert updated.count("model version") == 1 and "v0002" in updated
    for kept in ("<p>a</p>", "<p>b</p>", "<p class='note'>c</p>"):
        assert kept in updated


def test_version_and_address_are_escaped_into_the_html():
    text = with_report_link("", 'https://ml.example.org/report?project=1&x="><script>', "<img src=x onerror=alert(1)>")
    assert "<script>" not in text and "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "&quot;&gt;&lt;script&gt;" in text
