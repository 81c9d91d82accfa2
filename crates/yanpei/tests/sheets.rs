//! `yanpei node template|import|export` as a clerk runs them: a template filled in, an
//! import refused with every bad row named, a partial import and its error workbook fixed,
//! an export that re-imports as nothing new.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

mod support;

use yanpei_record_io::{Grid, read_workbook, write_grids};

use support::{fresh_dir, ok, run};

/// Appends a row to `sheet`, cells given by header (without the `*`).
fn append(grids: &mut [Grid], sheet: &str, cells: &[(&str, &str)]) {
    let g = grids.iter_mut().find(|g| g.name == sheet).unwrap();
    let row = g.rows[0]
        .iter()
        .map(|h| {
            cells
                .iter()
                .find(|(k, _)| *k == h.trim_end_matches('*'))
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_default()
        })
        .collect();
    g.rows.push(row);
}

#[test]
fn template_import_partial_fix_and_export() {
    let dir = fresh_dir("sheets", "clerk");
    ok(&dir, &["ca", "init", "--dir", "pki"]);
    ok(&dir, &["ca", "issue-node", "--dir", "pki", "--school", "S01"]);
    let init = ["node", "init", "--store", "n.sqlite", "--school", "S01", "--hub", "https://127.0.0.1:1"];
    ok(
        &dir,
        &[&init[..], &["--ca", "pki/ca.pem", "--cert", "pki/node-S01.pem", "--key", "pki/node-S01.key"]]
            .concat(),
    );

    let out =
        ok(&dir, &["node", "template", "--store", "n.sqlite", "--kind", "听课", "--kind", "讲座", "t.xlsx"]);
    assert!(out.contains("听课、讲座"), "{out}");
    let mut grids = read_workbook(&dir.join("t.xlsx")).unwrap();
    let names: Vec<&str> = grids.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["说明", "听课", "讲座"]);
    append(
        &mut grids,
        "听课",
        &[("日期", "2024-10-08"), ("听课人", "王老师"), ("授课教师", "李老师"), ("学科", "语文")],
    );
    append(&mut grids, "听课", &[("日期", "2024-10-09"), ("听课人", "王老师"), ("学科", "语文")]);
    append(
        &mut grids,
        "讲座",
        &[
            ("日期", "2024/10/10"),
            ("主讲人", "赵老师"),
            ("课题/主题", "大单元教学"),
            ("时长（分钟）", "九十"),
        ],
    );
    append(&mut grids, "讲座", &[("日期", "2024-10-11"), ("主讲人", "赵老师"), ("课题/主题", "作业设计")]);
    write_grids(&dir.join("filled.xlsx"), &grids).unwrap();

    let refused = run(&dir, &["node", "import", "--store", "n.sqlite", "filled.xlsx"]);
    assert!(!refused.status.success());
    let listed = String::from_utf8_lossy(&refused.stdout);
    let lines: Vec<&str> = listed.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "工作表「听课」第 4 行「授课教师」：听课记录必须填写授课教师",
            "工作表「讲座」第 3 行「时长（分钟）」：「九十」不是整数"
        ]
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("未导入任何记录"));
    assert!(ok(&dir, &["node", "list", "--store", "n.sqlite"]).contains("共 0 条"));

    let partial = ok(&dir, &["node", "import", "--store", "n.sqlite", "--partial", "filled.xlsx"]);
    assert!(partial.contains("已导入 2 条记录") && partial.contains("filled.errors.xlsx"), "{partial}");
    let mut errors = read_workbook(&dir.join("filled.errors.xlsx")).unwrap();
    errors[0].rows[1][2] = "李老师".into();
    let minutes = errors[1].rows[0].iter().position(|h| h == "时长（分钟）").unwrap();
    errors[1].rows[1][minutes] = "90".into();
    write_grids(&dir.join("filled.errors.xlsx"), &errors).unwrap();
    let fixed = ok(&dir, &["node", "import", "--store", "n.sqlite", "filled.errors.xlsx"]);
    assert!(fixed.contains("已导入 2 条记录"), "{fixed}");
    assert!(ok(&dir, &["node", "list", "--store", "n.sqlite"]).contains("共 4 条"));

    let exported =
        ok(&dir, &["node", "export", "--store", "n.sqlite", "--semester", "2024-2025-1", "out.xlsx"]);
    assert!(exported.contains("4 条") && exported.contains("听课 2 条、讲座 2 条"), "{exported}");
    let again = ok(&dir, &["node", "import", "--store", "n.sqlite", "out.xlsx"]);
    assert!(again.contains("没有新记录") && again.contains("已导入过的 4 行"), "{again}");
    assert!(ok(&dir, &["node", "list", "--store", "n.sqlite"]).contains("共 4 条"));
}
