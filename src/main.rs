fn main() {
    eprintln!("terraform-provider-ipam: under construction");
    std::process::exit(1);
}
