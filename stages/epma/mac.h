/* Mass absorption coefficients: Heinrich 1986 (ICXOM-11) parameterisation with coefficients from
 * calib/epma_heinrich86_mac.csv, and xraylib's CS_Total. The public entry point is kr_mac_cm2_g in
 * matrix.h. */
#ifndef KR_EPMA_MAC_H
#define KR_EPMA_MAC_H
#include "atomic.h"

/* Load the Heinrich 1986 coefficient table into at->h86 (called by kr_atomic_load). */
int kr_mac_h86_load(kr_atomic *at);
/* Heinrich 1986 mu/rho (cm2/g) of a photon of e_kev in element z (3 <= z <= 95), NaN outside. */
double kr_mac_heinrich86(const kr_atomic *at, int z, double e_kev);
/* xraylib CS_Total (cm2/g), NaN on error. */
double kr_mac_xraylib(int z, double e_kev);

#endif
