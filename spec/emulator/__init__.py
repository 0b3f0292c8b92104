"""What the emulator adds to DashScope's API, written once for the emulator, the runner's
contract player and the tests: its headers and admin routes (`wire`), and the format of its
fault rules (`faultrules`)."""
