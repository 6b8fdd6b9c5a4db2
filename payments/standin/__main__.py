"""`python -m payments.standin --port 12111 --key sk_test_... --webhook URL --secret whsec_...`"""

from payments.standin import main

main()
