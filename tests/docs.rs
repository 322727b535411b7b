//! The documentation in `docs/` is generated from the schemas and `examples/`: this test fails when
//! a page is stale, missing or extra, or when an attribute has no description.
//! `scripts/generate-docs` (UPDATE_DOCS=1) writes the pages again.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use tfipam::plugin::{Provider, Schema};
use tfipam::provider::{docs, IpamProvider};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn markdown_files(dir: &Path, found: &mut BTreeSet<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            markdown_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "md") {
            let relative = path
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            found.insert(relative);
        }
    }
}

#[test]
fn docs_are_generated_from_the_current_schemas_and_examples() {
    let pages = docs::render(&root().join("examples")).expect("every example exists");
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for page in &pages {
        let path = root().join(&page.path);
        if update {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &page.contents).unwrap();
        } else if fs::read_to_string(&path).ok().as_deref() != Some(page.contents.as_str()) {
            stale.push(page.path.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "stale documentation: {stale:?}; run scripts/generate-docs and commit the result"
    );
    let expected: BTreeSet<String> = pages.iter().map(|p| p.path.clone()).collect();
    let mut present = BTreeSet::new();
    for folder in ["resources", "data-sources", "functions"] {
        markdown_files(&root().join("docs").join(folder), &mut present);
    }
    present.insert("docs/index.md".to_string());
    let extra: Vec<_> = present.difference(&expected).collect();
    assert!(
        extra.is_empty(),
        "pages for no resource, data source or function: {extra:?}"
    );
}

#[test]
fn every_page_embeds_its_example_word_for_word() {
    let pages = docs::render(&root().join("examples")).expect("every example exists");
    for page in pages {
        let name = page
            .path
            .trim_start_matches("docs/")
            .trim_end_matches(".md");
        let example = match name.split_once('/') {
            None => root().join("examples/provider/provider.tf"),
            Some(("resources", short)) => {
                let full = if short == "ipam" {
                    "ipam".to_string()
                } else {
                    format!("ipam_{short}")
                };
                root().join(format!("examples/resources/{full}/resource.tf"))
            }
            Some(("functions", function)) => {
                root().join(format!("examples/functions/{function}/function.tf"))
            }
            Some((_, short)) => {
                root().join(format!("examples/data-sources/ipam_{short}/data-source.tf"))
            }
        };
        let text = fs::read_to_string(&example).expect("the example exists");
        assert!(
            page.contents.contains(text.trim_end()),
            "{} does not embed {}",
            page.path,
            example.display()
        );
    }
}

fn assert_described(kind: &str, name: &str, schema: &Schema) {
    assert!(
        !schema.block.description.trim().is_empty(),
        "{kind} {name} has no description"
    );
    for attribute in &schema.block.attributes {
        assert!(
            attribute.description.trim().ends_with('.'),
            "{kind} {name}: attribute {} needs a one-sentence description",
            attribute.name
        );
    }
}

#[test]
fn every_attribute_is_described() {
    let provider = IpamProvider::new();
    assert_described("provider", "ipam", &provider.schema());
    for (name, resource) in provider.resources() {
        assert_described("resource", &name, &resource.schema());
        assert!(root()
            .join(format!("examples/resources/{name}/import.sh"))
            .exists());
    }
    for (name, data_source) in provider.data_sources() {
        assert_described("data source", &name, &data_source.schema());
    }
    for (name, function) in provider.functions() {
        let definition = function.definition();
        assert!(
            !definition.summary.trim().is_empty() && !definition.description.trim().is_empty(),
            "function {name} needs a summary and a description"
        );
        for parameter in &definition.parameters {
            assert!(
                parameter.description.trim().ends_with('.'),
                "function {name}: parameter {} needs a one-sentence description",
                parameter.name
            );
        }
    }
}
