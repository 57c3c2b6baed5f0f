"""The 835 report the bench's mock Stedi serves: fixtures/stedi/report-835-era.json as data."""

from __future__ import annotations

from typing import Any

REPORT_835: dict[str, Any] = {
    "meta": {
        "applicationMode": "test",
        "senderId": "SYNCLEARHSE",
        "transactionId": "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84",
    },
    "transactions": [
        {
            "controlNumber": "000000001",
            "productionDate": "20250320",
            "financialInformation": {
                "transactionHandlingCode": "I",
                "totalActualProviderPaymentAmount": "132.40",
                "creditOrDebitFlagCode": "C",
                "paymentMethodCode": "ACH",
                "paymentFormatCode": "CCP",
                "checkIssueOrEFTEffectiveDate": "20250324",
                "payerIdentifier": "1990000001",
                "senderAccountDetails": {
                    "senderDfiIdNumberQualifier": "01",
                    "senderDFIIdentifier": "999999992",
                    "senderAccountNumberQualifier": "DA",
                    "senderAccountNumber": "000111222",
                },
                "receiverAccountDetails": {
                    "receiverDfiIdNumberQualifier": "01",
                    "receiverDfiIdentificationNumber": "999999991",
                    "receiverAccountNumberQualifier": "DA",
                    "receiverAccountNumber": "000333444",
                },
            },
            "paymentAndRemitReassociationDetails": {
                "traceTypeCode": "1",
                "checkOrEFTTraceNumber": "SYNEFT20250324001",
                "originatingCompanyIdentifier": "1990000001",
            },
            "payer": {
                "name": "SYNTHETIC HEALTH PLAN",
                "payerIdentificationNumber": "SYNPAYER01",
                "address": {
                    "address1": "100 EXAMPLE WAY",
                    "city": "ANYTOWN",
                    "state": "MN",
                    "postalCode": "55400",
                },
                "technicalContactInformation": [
                    {"contactName": "EDI SUPPORT", "contactMethods": [{"phone": "5555550100"}]}
                ],
            },
            "payee": {
                "name": "SYNTHETIC FAMILY CLINIC",
                "npi": "1999999984",
                "federalTaxPayersIdentificationNumber": "990000001",
            },
            "detailInfo": [
                {
                    "assignedNumber": "1",
                    "paymentInfo": [
                        {
                            "claimPaymentInfo": {
                                "patientControlNumber": "SYN0001842",
                                "claimStatusCode": "1",
                                "totalClaimChargeAmount": "245.00",
                                "claimPaymentAmount": "132.40",
                                "patientResponsibilityAmount": "40.00",
                                "claimFilingIndicatorCode": "12",
                                "payerClaimControlNumber": "SYNPCCN77001",
                                "facilityTypeCode": "11",
                                "claimFrequencyCode": "1",
                            },
                            "claimAdjustments": [],
                            "patientName": {
                                "firstName": "ALEX",
                                "lastName": "TESTPATIENT",
                                "memberId": "ZZT000123401",
                            },
                            "renderingProvider": {
                                "lastName": "DOCTOR",
                                "firstName": "SAM",
                                "npi": "1999999976",
                            },
                            "claimReceivedDate": "20250314",
                            "serviceLines": [
                                {
                                    "lineItemControlNumber": "SYNLINE0001",
                                    "serviceDate": "20250310",
                                    "servicePaymentInformation": {
                                        "productOrServiceIDQualifier": "HC",
                                        "productOrServiceIDQualifierValue": "Health "
                                        "Care "
                                        "Financing "
                                        "Administration "
                                        "Common "
                                        "Procedural "
                                        "Coding "
                                        "System "
                                        "(HCPCS) "
                                        "Codes",
                                        "adjudicatedProcedureCode": "99214",
                                        "lineItemChargeAmount": "150.00",
                                        "lineItemProviderPaymentAmount": "92.40",
                                        "unitsOfServicePaidCount": "1",
                                    },
                                    "serviceAdjustments": [
                                        {
                                            "claimAdjustmentGroupCode": "CO",
                                            "claimAdjustmentGroupCodeValue": "Contractual "
                                            "Obligations",
                                            "adjustmentReasonCode1": "45",
                                            "adjustmentReason1": "Charge "
                                            "exceeds "
                                            "fee "
                                            "schedule/maximum "
                                            "allowable "
                                            "or "
                                            "contracted/legislated "
                                            "fee "
                                            "arrangement.",
                                            "adjustmentAmount1": "27.60",
                                        },
                                        {
                                            "claimAdjustmentGroupCode": "PR",
                                            "claimAdjustmentGroupCodeValue": "Patient "
                                            "Responsibility",
                                            "adjustmentReasonCode1": "3",
                                            "adjustmentReason1": "Co-payment Amount",
                                            "adjustmentAmount1": "30.00",
                                        },
                                    ],
                                    "serviceSupplementalAmounts": {"allowedActual": "122.40"},
                                },
                                {
                                    "lineItemControlNumber": "SYNLINE0002",
                                    "serviceDate": "20250310",
                                    "servicePaymentInformation": {
                                        "productOrServiceIDQualifier": "HC",
                                        "productOrServiceIDQualifierValue": "Health "
                                        "Care "
                                        "Financing "
                                        "Administration "
                                        "Common "
                                        "Procedural "
                                        "Coding "
                                        "System "
                                        "(HCPCS) "
                                        "Codes",
                                        "adjudicatedProcedureCode": "81002",
                                        "lineItemChargeAmount": "95.00",
                                        "lineItemProviderPaymentAmount": "40.00",
                                        "unitsOfServicePaidCount": "1",
                                    },
                                    "serviceAdjustments": [
                                        {
                                            "claimAdjustmentGroupCode": "CO",
                                            "claimAdjustmentGroupCodeValue": "Contractual "
                                            "Obligations",
                                            "adjustmentReasonCode1": "45",
                                            "adjustmentReason1": "Charge "
                                            "exceeds "
                                            "fee "
                                            "schedule/maximum "
                                            "allowable "
                                            "or "
                                            "contracted/legislated "
                                            "fee "
                                            "arrangement.",
                                            "adjustmentAmount1": "45.00",
                                        },
                                        {
                                            "claimAdjustmentGroupCode": "PR",
                                            "claimAdjustmentGroupCodeValue": "Patient "
                                            "Responsibility",
                                            "adjustmentReasonCode1": "2",
                                            "adjustmentReason1": "Coinsurance Amount",
                                            "adjustmentAmount1": "10.00",
                                        },
                                    ],
                                    "healthCareCheckRemarkCodes": [
                                        {
                                            "codeListQualifierCode": "HE",
                                            "codeListQualifierCodeValue": "Claim "
                                            "Payment "
                                            "Remark "
                                            "Codes",
                                            "remarkCode": "N130",
                                        }
                                    ],
                                    "serviceSupplementalAmounts": {"allowedActual": "50.00"},
                                },
                            ],
                        }
                    ],
                }
            ],
        }
    ],
}
