// The playground's bundle is compiled in (`include_dir!`): rebuild when it changes.
fn main() {
    println!("cargo:rerun-if-changed=../playground/dist");
}
