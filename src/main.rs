fn main() {
    println!("voxdesk");
}
