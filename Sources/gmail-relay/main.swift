import GmailRelayApp

await RelayCommand.main()
