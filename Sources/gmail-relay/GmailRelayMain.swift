import GmailRelayApp

// An explicit async entry point: ArgumentParser's async commands need one (not top-level code).
@main
struct GmailRelayMain {
    static func main() async {
        await RelayCommand.main()
    }
}
