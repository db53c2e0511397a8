/* main.c - placeholder until the CLI lands. */
#include <stdio.h>
int main(void) { puts("secfaas " SECFAAS_VERSION); return 0; }
