import BucketFSCLI

BucketfsCommand.main()
